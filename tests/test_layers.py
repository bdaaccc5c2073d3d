"""The layers of docs/ARCHITECTURE.md hold: every contract in pyproject.toml's
[tool.importlinter] is kept, checked here on the import graph lint-imports builds (`make lint`
runs it), so that an import against the layers fails the suite too. Run `lint-imports` to see
which imports break a contract."""

from pathlib import Path

import grimp
import pytest
from importlinter import api  # noqa: F401 (configures import-linter: its readers and settings)
from importlinter.application.use_cases import read_user_options
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
CONTRACT_TYPES = {"layers": LayersContract, "forbidden": ForbiddenContract}


def _graph(session: dict) -> grimp.ImportGraph:
    return grimp.build_graph(
        *session["root_packages"], include_external_packages=session["include_external_packages"], cache_dir=None
    )


def broken_contracts(*, adding: tuple[str, str] | None = None) -> list[str]:
    """The names of the contracts the project's imports break, with the import `adding`
    (importer, imported) added to them when given."""
    options = read_user_options(str(PYPROJECT))
    session = options.session_options
    graph = _graph(session)
    if adding:
        importer, imported = adding
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    return [
        contract["name"]
        for contract in options.contracts_options
        if not CONTRACT_TYPES[contract["type"]](contract["name"], session, contract).check(graph, verbose=False).kept
    ]


def test_every_import_follows_the_layers():
    assert broken_contracts() == []


def test_the_contracts_see_every_module_of_the_project():
    # The graph holds regular packages only: a folder without __init__.py would hide its
    # modules' imports from every contract.
    session = read_user_options(str(PYPROJECT)).session_options
    modules = _graph(session).modules
    files = [
        path.relative_to(ROOT).with_suffix("")
        for package in session["root_packages"]
        for path in (ROOT / package).rglob("*.py")
    ]
    names = {".".join(path.parts[:-1] if path.name == "__init__" else path.parts) for path in files}
    assert sorted(names - modules) == []


@pytest.mark.parametrize(
    "importer, imported",
    [
        ("orders.services", "storefront.catalog.views"),  # a domain app imports a view
        ("payments.services", "api.errors"),  # … or the API
        ("catalog.selectors", "inventory.selectors"),  # a lower app imports a higher one
        ("cart.services", "orders.services"),  # siblings of one layer
        ("api.orders.views", "storefront.orders.views"),  # top-layer packages
        ("kernel.locking", "accounts.models"),  # the bottom layer knows no app
        ("orders.services", "rest_framework"),  # a domain app imports DRF
        ("storefront.session", "config.settings.base"),  # settings are django.conf's
    ],
)
def test_an_import_against_the_layers_breaks_a_contract(importer, imported):
    assert broken_contracts(adding=(importer, imported)) != []

import io

from PIL import Image

from catalog.images import PLACEHOLDER_SIZE, fetch_image, placeholder_image


def test_a_placeholder_is_a_square_jpeg_whose_colour_depends_only_on_the_seed():
    one = placeholder_image(title="Copper Light", seed="copper-light")

    assert one == placeholder_image(title="Copper Light", seed="copper-light")
    with Image.open(io.BytesIO(one)) as image:
        assert (image.format, image.size) == ("JPEG", (PLACEHOLDER_SIZE, PLACEHOLDER_SIZE))
        corner = image.getpixel((2, 2))
    two = placeholder_image(title="Copper Light", seed="cream-sofa")
    with Image.open(io.BytesIO(two)) as other:
        assert other.getpixel((2, 2)) != corner


def test_fetch_image_returns_none_instead_of_raising_when_the_host_is_unreachable(offline):
    assert fetch_image("https://burst.shopifycdn.com/photos/x.jpg", 1.0) is None
    assert offline == ["https://burst.shopifycdn.com/photos/x.jpg"]


def test_fetch_image_never_opens_local_files_or_asks_dns_about_invalid_hosts(offline):
    assert fetch_image("file:///etc/passwd", 1.0) is None
    assert fetch_image("https://images.example.invalid/a.jpg", 1.0) is None
    assert offline == []


def test_fetch_image_refuses_bytes_that_are_not_an_image(respond_with):
    respond_with(b"<html>")

    assert fetch_image("https://cdn.example.com/lamp.jpg", 1.0) is None


def test_fetch_image_returns_the_bytes_of_a_real_image(respond_with):
    photo = io.BytesIO()
    Image.new("RGB", (10, 10)).save(photo, format="WEBP")
    respond_with(photo.getvalue())

    assert fetch_image("https://cdn.example.com/lamp.webp", 1.0) == photo.getvalue()

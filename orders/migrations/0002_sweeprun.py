from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SweepRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("started_at", models.DateTimeField()),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "trigger",
                    models.CharField(
                        choices=[("beat", "Celery beat"), ("command", "Management command"), ("admin", "Admin button")],
                        max_length=10,
                    ),
                ),
                ("reservations_expired", models.PositiveIntegerField(default=0)),
                ("orders_expired", models.PositiveIntegerField(default=0)),
                ("error", models.TextField(blank=True)),
            ],
            options={
                "ordering": ["-started_at", "-pk"],
                "permissions": [("run_sweep", "Can run the expiry sweep from the admin")],
                "indexes": [models.Index(fields=["started_at"], name="sweeprun_started_at_idx")],
            },
        ),
    ]

from django.core.management.base import BaseCommand

from shop.services import catalog_seed_demo


class Command(BaseCommand):
    help = "Load the demo catalog (idempotent: existing products are left as they are)."

    def handle(self, *args: object, **options: object) -> None:
        report = catalog_seed_demo()
        self.stdout.write(
            f"categories created: {report.categories_created}, "
            f"products created: {report.products_created}, "
            f"images attached: {report.images_copied}, "
            f"images resized: {report.images_resized}"
        )

# django/demo/shop/management/commands/demo_data.py: the demo's sample rows.
# Rules: idempotent (update_or_create), through the ORM like any Django code,
# so its writes are invalidated by dumper like every other.
"""manage.py demo_data: three ice creams and two sizes."""

from django.core.management.base import BaseCommand
from django.db import transaction

from shop.models import IceCream, Size


class Command(BaseCommand):
    """Create (or reset) the sample ice creams and sizes."""

    help = "Create or reset the demo's ice creams and sizes."

    def handle(self, *args, **options):
        """Write the rows in one transaction."""
        with transaction.atomic():
            small, _ = Size.objects.update_or_create(slug="small", defaults={"name": "Small"})
            large, _ = Size.objects.update_or_create(slug="large", defaults={"name": "Large"})
            rows = [("vanilla", "Vanilla", 300, [small]),
                    ("chocolate", "Chocolate", 350, [small, large]),
                    ("strawberry", "Strawberry", 320, [])]
            for slug, name, price, sizes in rows:
                icecream, _ = IceCream.objects.update_or_create(
                    slug=slug, defaults={"name": name, "price": price})
                icecream.sizes.set(sizes)
        self.stdout.write("demo data: %d ice creams, %d sizes"
                          % (IceCream.objects.count(), Size.objects.count()))

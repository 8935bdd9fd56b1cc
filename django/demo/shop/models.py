# django/demo/shop/models.py: the seed's models, IceCream and Size, many-to-many.
#
# Rules: URLs here and the SQL paths functions of migration 0002 must agree:
# /icecream/<slug>/, /icecreams/ and /size/<slug>/.  Django creates the
# through table shop_icecream_sizes (two foreign keys and an id: a pure join
# table, which dumper finds by itself).  No Python signal is involved:
# PostgreSQL invalidates, whoever writes.
"""Ice creams and the sizes they come in."""

from django.db import models
from django.urls import reverse


class Size(models.Model):
    """A size an ice cream comes in (small, large, ...)."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)

    class Meta:
        """Sizes are listed by name."""

        ordering = ["name"]

    def __str__(self):
        """The size's name."""
        return self.name

    def get_absolute_url(self):
        """The size's page."""
        return reverse("size-detail", args=[self.slug])


class IceCream(models.Model):
    """An ice cream, its price in cents and its sizes."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    price = models.PositiveIntegerField(help_text="in cents")
    sizes = models.ManyToManyField(Size, related_name="ice_creams", blank=True)

    class Meta:
        """Ice creams are listed by name."""

        ordering = ["name"]

    def __str__(self):
        """The ice cream's name."""
        return self.name

    def get_absolute_url(self):
        """The ice cream's page."""
        return reverse("icecream-detail", args=[self.slug])

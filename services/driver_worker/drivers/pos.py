"""Actindo POS driver: the point of sale is part of the platform, so there is nothing to call.

Its data model is fixed and built in: what a till needs of an article to sell it and print the receipt.
- pos_article_number (text, required): the number scanned or typed at the till
- pos_receipt_text (text, required): the short name printed on the receipt
- pos_price (price, required): the gross selling price
- pos_tax_rate (select: standard / reduced / zero, required)
- pos_unit (select: piece / kg / l): what the price is per
- pos_weighable (boolean): the article is weighed at the till
- pos_age_restriction (select: 16 / 18): the cashier must check the buyer's age
All of them form the one attribute set "pos_article".
"""

from __future__ import annotations

from contracts.datamodel import Attribute, AttributeOption, AttributeSet, AttributeType, DataModel
from contracts.drivers import PosCredentials, PosSettings
from services.driver_worker.drivers.base import Progress


def _option(code: str, en: str, de: str) -> AttributeOption:
    return AttributeOption(code=code, labels={"en": en, "de": de})


POS_MODEL = DataModel(
    attributes=(
        Attribute(code="pos_article_number", labels={"en": "Article number", "de": "Artikelnummer"},
                  type=AttributeType.TEXT, required=True),
        Attribute(code="pos_receipt_text", labels={"en": "Receipt text", "de": "Bontext"},
                  type=AttributeType.TEXT, required=True),
        Attribute(code="pos_price", labels={"en": "Price", "de": "Preis"}, type=AttributeType.PRICE, required=True),
        Attribute(code="pos_tax_rate", labels={"en": "Tax rate", "de": "Steuersatz"}, type=AttributeType.SELECT,
                  options=(_option("standard", "Standard", "Regelsatz"), _option("reduced", "Reduced", "Ermäßigt"),
                           _option("zero", "Zero", "Steuerfrei")), required=True),
        Attribute(code="pos_unit", labels={"en": "Unit", "de": "Einheit"}, type=AttributeType.SELECT,
                  options=(_option("piece", "Piece", "Stück"), _option("kg", "Kilogram", "Kilogramm"),
                           _option("l", "Litre", "Liter"))),
        Attribute(code="pos_weighable", labels={"en": "Weighed at the till", "de": "Waagenartikel"},
                  type=AttributeType.BOOLEAN),
        Attribute(code="pos_age_restriction", labels={"en": "Minimum age", "de": "Altersfreigabe"},
                  type=AttributeType.SELECT, options=(_option("16", "16", "16"), _option("18", "18", "18"))),
    ),
    attribute_sets=(
        AttributeSet(
            code="pos_article",
            labels={"en": "POS article", "de": "Kassenartikel"},
            attribute_codes=("pos_article_number", "pos_receipt_text", "pos_price", "pos_tax_rate", "pos_unit",
                             "pos_weighable", "pos_age_restriction"),
        ),
    ),
)
"""The built-in POS data model."""


class PosDriver:
    """Always accepts, always serves `POS_MODEL`, holds nothing."""

    async def check_credentials(self, credentials: PosCredentials, settings: PosSettings) -> None:
        """Nothing to check: the POS needs no credentials."""

    async def fetch_model(self, credentials: PosCredentials, settings: PosSettings, progress: Progress) -> DataModel:
        """The fixed POS model, reported as one page."""
        total = len(POS_MODEL.attributes) + len(POS_MODEL.attribute_sets)
        await progress(total, total)
        return POS_MODEL

    async def clean_up(self, credentials: PosCredentials, settings: PosSettings) -> None:
        """Nothing to clean up."""

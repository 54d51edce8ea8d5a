"""Actindo POS: the platform's own point of sale. No credentials, nothing to call; a fixed built-in model.

The POS data model is what a till needs of a product: a receipt name, a barcode, a tax class, a price and
the variant axes size and colour; one attribute set, ``pos_article``, holds them all.
"""

from __future__ import annotations

from contracts.datamodel import Attribute, AttributeOption, AttributeSet, AttributeType, DataModel
from contracts.drivers import PosCredentials, PosSettings
from services.driver_worker.drivers.base import Progress

_ATTRIBUTES = (
    Attribute(code="receipt_name", labels={"default": "Receipt name"}, type=AttributeType.TEXT, required=True),
    Attribute(code="barcode", labels={"default": "Barcode (EAN/GTIN)"}, type=AttributeType.TEXT, multi_value=True),
    Attribute(
        code="tax_class", labels={"default": "Tax class"}, type=AttributeType.SELECT, required=True,
        options=(
            AttributeOption(code="standard", labels={"default": "Standard rate"}),
            AttributeOption(code="reduced", labels={"default": "Reduced rate"}),
            AttributeOption(code="zero", labels={"default": "Zero rate"}),
        ),
    ),
    Attribute(code="pos_price", labels={"default": "Till price"}, type=AttributeType.PRICE, required=True),
    Attribute(code="size", labels={"default": "Size"}, type=AttributeType.TEXT),
    Attribute(code="color", labels={"default": "Colour"}, type=AttributeType.COLOR),
)
POS_MODEL = DataModel(
    attributes=_ATTRIBUTES,
    attribute_sets=(
        AttributeSet(code="pos_article", labels={"default": "POS article"},
                     attribute_codes=tuple(a.code for a in _ATTRIBUTES)),
    ),
)


class PosDriver:
    """The Actindo POS driver: checks always pass, sync mirrors the fixed POS model."""

    async def check_credentials(self, credentials: PosCredentials, settings: PosSettings) -> None:
        return None

    async def fetch_model(self, credentials: PosCredentials, settings: PosSettings, progress: Progress) -> DataModel:
        await progress(len(POS_MODEL.attributes), len(POS_MODEL.attributes))
        return POS_MODEL

    async def clean_up(self, credentials: PosCredentials, settings: PosSettings) -> None:
        return None

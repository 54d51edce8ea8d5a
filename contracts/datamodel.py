"""The normalised data model every driver mirrors from its marketplace.

Attributes and attribute sets, whatever the marketplace calls them (Shopware property groups and custom
fields, Shopify metafield definitions, Magento attributes and attribute sets, Amazon product types, ...).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class AttributeType(StrEnum):
    """The normalised type of an attribute's values."""

    TEXT = "text"
    HTML = "html"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    SELECT = "select"
    MULTISELECT = "multiselect"
    PRICE = "price"
    MEDIA = "media"
    COLOR = "color"
    JSON = "json"
    REFERENCE = "reference"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AttributeOption(_Frozen):
    """One value a select or multiselect attribute can take."""

    code: str
    labels: dict[str, str] = Field(default_factory=dict, description="label per locale, e.g. {'default': 'Red'}")


class Attribute(_Frozen):
    """One product attribute of the marketplace, with its type and (for selects) its options."""

    code: str = Field(description="stable code of the attribute in its marketplace")
    labels: dict[str, str] = Field(default_factory=dict)
    type: AttributeType
    options: tuple[AttributeOption, ...] = ()
    required: bool = False
    multi_value: bool = False


class AttributeSet(_Frozen):
    """A group of attributes that applies to a kind of product (Magento attribute set, Amazon product type)."""

    code: str
    labels: dict[str, str] = Field(default_factory=dict)
    attribute_codes: tuple[str, ...] = ()


class DataModel(_Frozen):
    """A marketplace's whole product data model, as mirrored by one sync."""

    attributes: tuple[Attribute, ...] = ()
    attribute_sets: tuple[AttributeSet, ...] = ()

"""Shopify Admin GraphQL documents and their mapping to the normalised model.

Mapping: a metafield definition becomes an attribute (code = "product.<namespace>.<key>" or
"variant.<namespace>.<key>", since both owners may define the same key); the definitions of each owner
form the attribute sets "product" and "variant". With the taxonomy mirrored, each taxonomy category is an
attribute set (code = its gid, label = full name) of its category attributes: choice lists become select
attributes with their values, measurements number attributes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from contracts.datamodel import Attribute, AttributeOption, AttributeType

OWNERS: Final[Mapping[str, str]] = {"PRODUCT": "product", "PRODUCTVARIANT": "variant"}
OWNER_LABELS: Final[Mapping[str, str]] = {"PRODUCT": "Product metafields", "PRODUCTVARIANT": "Variant metafields"}

CHECK_SHOP: Final = "query CheckShop { shop { id name myshopifyDomain } }"

METAFIELD_DEFINITIONS: Final = """query MetafieldDefinitions($ownerType: MetafieldOwnerType!, $after: String) {
  metafieldDefinitions(ownerType: $ownerType, first: 250, after: $after) {
    nodes { id name namespace key description ownerType type { name category } validations { name value } }
    pageInfo { hasNextPage endCursor }
  }
}"""

# Page sizes keep the requested cost under Shopify's 1,000 per query: 20 categories x 40 attributes.
TAXONOMY_CATEGORIES: Final = """query TaxonomyCategories($after: String, $descendantsOf: ID) {
  taxonomy {
    categories(first: 20, after: $after, descendantsOf: $descendantsOf) {
      nodes {
        id name fullName isLeaf
        attributes(first: 40) {
          nodes {
            __typename
            ... on TaxonomyChoiceListAttribute { id name }
            ... on TaxonomyMeasurementAttribute { id name }
          }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

VALUES_PER_QUERY: Final = 8  # 8 attributes x 100 values stays under the cost limit
TAXONOMY_VALUES: Final = """query TaxonomyValues($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on TaxonomyChoiceListAttribute { id name values(first: 100) { nodes { id name } } }
  }
}"""

_METAFIELD_TYPES: Final[Mapping[str, AttributeType]] = {
    "single_line_text_field": AttributeType.TEXT,
    "multi_line_text_field": AttributeType.TEXT,
    "url": AttributeType.TEXT,
    "rich_text_field": AttributeType.HTML,
    "number_integer": AttributeType.INTEGER,
    "number_decimal": AttributeType.NUMBER,
    "rating": AttributeType.NUMBER,
    "dimension": AttributeType.NUMBER,
    "volume": AttributeType.NUMBER,
    "weight": AttributeType.NUMBER,
    "boolean": AttributeType.BOOLEAN,
    "date": AttributeType.DATE,
    "date_time": AttributeType.DATETIME,
    "color": AttributeType.COLOR,
    "money": AttributeType.PRICE,
    "json": AttributeType.JSON,
    "file_reference": AttributeType.MEDIA,
}


def metafield_attribute(node: Mapping[str, Any]) -> Attribute:
    """A metafield definition node as an attribute."""
    type_name = str((node.get("type") or {}).get("name") or "single_line_text_field")
    multi = type_name.startswith("list.")
    base = type_name.removeprefix("list.")
    kind = _METAFIELD_TYPES.get(base, AttributeType.REFERENCE if base.endswith("_reference") else AttributeType.TEXT)
    choices = _choices(node.get("validations") or [])
    if choices:
        kind = AttributeType.MULTISELECT if multi else AttributeType.SELECT
    owner = OWNERS.get(str(node.get("ownerType")), str(node.get("ownerType")).lower())
    return Attribute(
        code=f"{owner}.{node['namespace']}.{node['key']}",
        labels={"default": str(node.get("name") or node["key"])},
        type=kind,
        options=tuple(AttributeOption(code=c, labels={"default": c}) for c in choices),
        multi_value=multi,
    )


def _choices(validations: list[Mapping[str, Any]]) -> list[str]:
    for validation in validations:
        if validation.get("name") == "choices":
            try:
                values = json.loads(str(validation.get("value")))
            except ValueError:
                return []
            return [str(v) for v in values] if isinstance(values, list) else []
    return []


def taxonomy_attribute(node: Mapping[str, Any], values: list[Mapping[str, Any]] | None) -> Attribute | None:
    """A category attribute as an attribute; None for kinds that carry no name (plain TaxonomyAttribute)."""
    if not node.get("id") or not node.get("name"):
        return None
    if node.get("__typename") == "TaxonomyMeasurementAttribute":
        return Attribute(code=str(node["id"]), labels={"default": str(node["name"])}, type=AttributeType.NUMBER)
    return Attribute(
        code=str(node["id"]),
        labels={"default": str(node["name"])},
        type=AttributeType.MULTISELECT,
        options=tuple(AttributeOption(code=str(v["id"]), labels={"default": str(v.get("name"))}) for v in values or []),
        # A product may take several values of a category attribute (e.g. colours).
        multi_value=True,
    )

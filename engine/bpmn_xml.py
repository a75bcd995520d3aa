"""XXE-safe XML reading for BPMN and DMN files."""

from __future__ import annotations

import re

from lxml import etree

_DECL = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class UnsafeXml(ValueError):
    """The document declares a DOCTYPE or entities."""


def safe_parser() -> etree.XMLParser:
    """An lxml parser that never resolves entities, loads DTDs or touches the network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_xml(content: bytes) -> etree._ElementTree:
    """Parse ``content``; refuse DOCTYPE and entity declarations (XXE, entity expansion)."""
    if _DECL.search(content):
        raise UnsafeXml("DOCTYPE or entity declarations are not allowed (XXE protection)")
    tree = etree.ElementTree(etree.fromstring(content, parser=safe_parser()))
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXml("DOCTYPE or entity declarations are not allowed (XXE protection)")
    return tree


def model_elements(root) -> int:
    """How many elements of the document's own namespace carry an id: in BPMN the tasks,
    events, gateways, flows, lanes, messages ... (diagram shapes and vendor extensions do
    not count); what a request's model-size limit counts (``LOTSE_MAX_MODEL_ELEMENTS``)."""
    ns = etree.QName(root).namespace or ""
    return sum(1 for el in root.iter(f"{{{ns}}}*") if el.get("id") is not None)


def count_model_elements(content: bytes) -> int | None:
    """``model_elements`` of a file; None when it is no safe, well-formed XML (the checks
    that read it next say why)."""
    try:
        return model_elements(parse_xml(content).getroot())
    except (UnsafeXml, etree.XMLSyntaxError):
        return None

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

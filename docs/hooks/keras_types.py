"""A Griffe extension: the types that Keras-style docstrings write in prose.

Keras documents an argument as `name: type. Description.` (`k: int. How many
tokens to keep.`) rather than with annotations. mkdocstrings reads types from
annotations or from `name (type): ...`, so its Type columns stayed empty. This
extension moves such a leading type out of the description into the item's
annotation, for parameters and attributes, where the prefix reads as a type.
"""

import re

import griffe

# A leading type: short, made of words and `code` spans, ended by ". " before a
# capital letter or a code span (a new sentence), by ": " or by the final ".".
_LEADING_TYPE = re.compile(
    r"^(?P<type>(?:`[^`]*`|[^.:`])+?)"
    r"(?:\.\s+(?=[A-Z`])|:\s+|\.\s*$)(?P<rest>.*)$",
    re.DOTALL,
)
_TYPE_WORDS = re.compile(
    r"^(?:`|(?:bool|int|float|str|dict|list|tuple|callable|tensor|None|optional|"
    r"a (?:dict|float|list|string|tensor|tuple|callable|scalar)|an int)\b)"
)
# Else a leading noun phrase naming a Keras object ("a Keras layer applied
# to ...") gives the type, and the description stays whole.
_LEADING_OBJECT = re.compile(
    r"^an? (?P<type>(?:Keras|`)[^,;:(]{0,40}?)(?=[,;:(]| such as| from| applied| to )"
)
# Or "optional <type>, ...", or an array described by its shape.
_LEADING_OPTIONAL = re.compile(r"^(?P<type>optional [^,;:(.]{1,45}?)(?=[,;:(])")
_SHAPE = re.compile(r"^(?:`\(|[a-z ]{0,30}, shape `\(|[a-z ]{0,30} of shape `\()")
_MAX_TYPE_LENGTH = 60
_SECTIONS = {
    griffe.DocstringSectionKind.parameters,
    griffe.DocstringSectionKind.other_parameters,
    griffe.DocstringSectionKind.attributes,
}


def split_type(description):
    """Returns `(type, rest)` for a description that starts with a type, else None."""
    description = description.strip()
    match = _LEADING_TYPE.match(description)
    if match:
        kind = " ".join(match["type"].split())
        rest = match["rest"].strip()
        # A whole description that reads as a type stays the description.
        if rest and len(kind) <= _MAX_TYPE_LENGTH and _TYPE_WORDS.match(kind):
            return kind.replace("`", ""), rest[:1].upper() + rest[1:]
    match = _LEADING_OBJECT.match(description) or _LEADING_OPTIONAL.match(description)
    if match:
        return " ".join(match["type"].split()).replace("`", ""), description
    if _SHAPE.match(description):
        return "tensor", description
    return None


class KerasTypes(griffe.Extension):
    """Fills empty annotations in docstrings from their leading prose type."""

    def on_package(self, *, pkg, **kwargs):
        """Fills the types of every docstring in the package, once loaded."""
        self._visit(pkg, seen=set())

    def _visit(self, obj, seen):
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            for section in obj.docstring.parsed:
                if section.kind in _SECTIONS:
                    for item in section.value:
                        self._fill(item)
                elif section.kind is griffe.DocstringSectionKind.returns:
                    for item in section.value:
                        # "float32 `(batch,)`: ..." is shown as code already.
                        if isinstance(item.annotation, str):
                            item.annotation = item.annotation.replace("`", "")
        for member in obj.members.values():
            if not member.is_alias:
                self._visit(member, seen)

    @staticmethod
    def _fill(item):
        if item.annotation or not item.description:
            return
        found = split_type(item.description)
        if found:
            item.annotation, item.description = found

"""Mutations of metadata text: OME-XML (attributes, elements, file references), ImageJ
``key=value`` descriptions and Aperio ``|key = value`` descriptions."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

__all__ = ["BAD_VALUES", "ESCAPES", "mutate_description", "mutate_imagej", "mutate_xml"]

BAD_VALUES = (
    "",
    "abc",
    "-1",
    "0",
    "1.5",
    "0.25e",
    "NaN",
    "inf",
    "1e400",
    "2147483648",
    "18446744073709551616",
    "99999999999",
    "x" * 300,
)
# file references that escape the naming file's folder (confinement must refuse them)
ESCAPES = (
    "../outside/secret.ome.tif",
    "../../outside/secret.ome.tif",
    "{secret}",
    "/proc/self/mem",
    "/etc/passwd",
    "link/../../outside/secret.ome.tif",
)


SECRET = ["/nonexistent/secret.ome.tif"]  # set by the runner: a real file outside the cases


def mutate_description(text: str, rng: random.Random) -> str:
    if text.lstrip().startswith("<"):
        return mutate_xml(text, rng)
    if text.startswith("Aperio"):
        return mutate_aperio(text, rng)
    if "=" in text:
        return mutate_imagej(text, rng)
    return rng.choice(BAD_VALUES)


def mutate_xml(text: str, rng: random.Random) -> str:
    """One structural edit of OME-XML (or of its text when it does not parse)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        cut = rng.randrange(len(text) + 1)
        return text[:cut] + rng.choice(("<", ">", '"', "&", "")) + text[cut + 1 :]
    elements = list(root.iter())
    el = rng.choice(elements)
    action = rng.choice(("attr", "attr", "attr", "drop", "dup", "filename", "cut", "tag"))
    if action == "attr" and el.attrib:
        key = rng.choice(sorted(el.attrib))
        el.set(key, rng.choice(BAD_VALUES))
    elif action == "attr":
        # OME-XML's sizes and planes, Leica SCN's dimension attributes
        key = rng.choice(("SizeX", "SizeC", "IFD", "PlaneCount", "FirstZ", "sizeZ", "ifd", "r"))
        el.set(key, rng.choice(BAD_VALUES))
    elif action == "drop":
        parent = next((p for p in elements if el in list(p)), None)
        if parent is not None:
            parent.remove(el)
        elif el.attrib:
            del el.attrib[rng.choice(sorted(el.attrib))]
    elif action == "dup":
        parent = next((p for p in elements if el in list(p)), None)
        if parent is not None:
            for _ in range(rng.choice((1, 2, 50))):
                parent.append(el)
    elif action == "filename":
        uuids = [e for e in elements if e.tag.endswith("UUID") and "FileName" in e.attrib]
        if uuids:
            rng.choice(uuids).set("FileName", rng.choice(ESCAPES).format(secret=SECRET[0]))
    elif action == "tag":
        el.tag = el.tag.rsplit("}", 1)[0] + rng.choice(("}Image", "}Pixels", "}Channel", "}X"))
    out = ET.tostring(root, encoding="unicode")
    if action == "cut":
        out = out[: rng.randrange(len(out) + 1)]
    return out


def mutate_imagej(text: str, rng: random.Random) -> str:
    lines = [ln for ln in text.splitlines() if ln]
    action = rng.choice(("value", "value", "drop", "add"))
    if action == "value" and lines:
        k = rng.randrange(len(lines))
        key = lines[k].split("=", 1)[0]
        lines[k] = f"{key}={rng.choice(BAD_VALUES)}"
    elif action == "drop" and lines:
        lines.pop(rng.randrange(len(lines)))
    else:
        key = rng.choice(("images", "channels", "slices", "frames", "spacing", "unit", "mode"))
        lines.append(f"{key}={rng.choice(BAD_VALUES + ('1000000000', '3'))}")
    return "\n".join(lines) + "\n"


def mutate_aperio(text: str, rng: random.Random) -> str:
    parts = text.split("|")
    if len(parts) > 1 and rng.random() < 0.8:
        k = rng.randrange(1, len(parts))
        key = parts[k].split("=", 1)[0].strip() or "MPP"
        parts[k] = f"{key} = {rng.choice(BAD_VALUES)}"
    else:
        parts.append(f"{rng.choice(('MPP', 'AppMag', 'Date'))} = {rng.choice(BAD_VALUES)}")
    return "|".join(parts)

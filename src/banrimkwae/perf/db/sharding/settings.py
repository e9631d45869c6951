"""The shards setting: `name=url` pairs, as a JSON object or list, or comma-separated."""

from __future__ import annotations

import json
import re

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
RESERVED = frozenset({"home"})


def parse_shards(value: str | dict[str, str] | list[str]) -> dict[str, str]:
    """{name: url} from `{"a": "url"}`, `["a=url", ...]` or `a=url,b=url`; names are checked."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        value = json.loads(text) if text[0] in "[{" else [part for part in text.split(",")]
    pairs: list[tuple[str, str]]
    if isinstance(value, dict):
        pairs = [(str(name), str(url)) for name, url in value.items()]
    else:
        pairs = []
        for item in value:
            name, separator, url = str(item).strip().partition("=")
            if not separator or not url:
                raise ValueError(f"a shard is name=url, not {item!r}")
            pairs.append((name.strip(), url.strip()))
    shards: dict[str, str] = {}
    for name, url in pairs:
        if not _NAME.match(name) or name in RESERVED:
            raise ValueError(f"bad shard name {name!r}: lowercase letters, digits, - and _")
        if name in shards:
            raise ValueError(f"shard {name!r} is named twice")
        if "://" not in url:
            raise ValueError(f"shard {name!r}: {url!r} is not a database URL")
        shards[name] = url
    return shards


__all__ = ["parse_shards"]

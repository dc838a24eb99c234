"""Length of a text as each platform counts it (being written)."""


def measure(platform: str, text: str) -> int:
    raise NotImplementedError


def limit(platform: str) -> int:
    raise NotImplementedError

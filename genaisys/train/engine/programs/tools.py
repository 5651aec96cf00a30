"""The tools of the recorded programs: genaisys's builtins plus everyday tools a user might bind.

The builtins are the real ones (`genaisys.tools.get_tool`): the calculator computes, the clock
reads the clock, the file reader reads files, the memory tools search and write a real Chroma
store. Two stand in for what cannot run offline, with the real tools' names, descriptions,
argument schemas and result formats: ``http_fetch`` serves `content.PAGES` (its result is the
real fetcher's `FetchResult.for_model` text), and the decoders ``generate_image`` / ``speak``
write small PNG / WAV files (their results are the real decoder tools' text). The everyday
tools (weather, currency, units, e-mail, calendar, timers, stocks, a dictionary, country facts,
dice, to-dos, music, news, lights) are plain typed functions with deterministic results: they
make tool sets vary, so the core learns to read a tool list rather than remember one.

Example:
    >>> [t.name for t in everyday_tools()][:3]
    ['get_weather', 'convert_currency', 'convert_units']
    >>> everyday_tools()[1].invoke({"amount": 10, "from_currency": "EUR", "to_currency": "USD"})
    '10 EUR = 10.85 USD'
"""

from __future__ import annotations

import hashlib
import io
import wave
from typing import Any, Literal

from genaisys.train.engine.programs.content import COUNTRIES, PAGES, WORDS

__all__ = ["EVERYDAY_TOOLS", "everyday_tools", "fetch_tool", "stand_in_decoders"]

_RATES = {"USD": 1.0, "EUR": 1.085, "GBP": 1.27, "JPY": 0.0067, "CHF": 1.13, "CAD": 0.74, "AUD": 0.66,
          "INR": 0.012, "CNY": 0.138, "BRL": 0.2, "MXN": 0.058, "SEK": 0.095, "NOK": 0.094, "KRW": 0.00075}
_UNITS = {  # unit → (dimension, factor to the base unit)
    "km": ("length", 1000.0), "m": ("length", 1.0), "cm": ("length", 0.01), "mm": ("length", 0.001),
    "mi": ("length", 1609.344), "miles": ("length", 1609.344), "ft": ("length", 0.3048), "feet": ("length", 0.3048),
    "in": ("length", 0.0254), "inches": ("length", 0.0254), "kg": ("mass", 1.0), "g": ("mass", 0.001),
    "lb": ("mass", 0.45359237), "pounds": ("mass", 0.45359237), "oz": ("mass", 0.028349523),
    "l": ("volume", 1.0), "ml": ("volume", 0.001), "gal": ("volume", 3.785411784), "cups": ("volume", 0.2365882),
}
_CONDITIONS = ("sunny", "partly cloudy", "overcast", "light rain", "heavy rain", "snow showers", "windy", "foggy")


def _digest(*parts: Any) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather for a city: conditions, temperature and wind."""
    h = _digest("weather", city.lower())
    celsius = h % 35 - 5
    temp = f"{celsius}°C" if unit == "celsius" else f"{round(celsius * 9 / 5 + 32)}°F"
    return f"Weather in {city}: {_CONDITIONS[h % len(_CONDITIONS)]}, {temp}, wind {h % 40 + 2} km/h."


def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """Convert an amount of money between currencies (ISO codes such as USD, EUR, JPY)."""
    src, dst = from_currency.upper(), to_currency.upper()
    if src not in _RATES or dst not in _RATES:
        raise ValueError(f"unknown currency code; known: {', '.join(sorted(_RATES))}")
    value = amount * _RATES[src] / _RATES[dst]
    return f"{amount:g} {src} = {value:.2f} {dst}"


def convert_units(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a length, mass or volume between units (km, mi, m, ft, kg, lb, l, gal …)."""
    a, b = _UNITS.get(from_unit.lower()), _UNITS.get(to_unit.lower())
    if a is None or b is None or a[0] != b[0]:
        raise ValueError(f"cannot convert {from_unit} to {to_unit}")
    return f"{value:g} {from_unit} = {value * a[1] / b[1]:.4g} {to_unit}"


def send_email(to: str, subject: str, body: str) -> str:
    """Send an e-mail to one address."""
    return f"E-mail to {to} sent (subject: {subject!r})."


def create_event(title: str, date: str, time: str = "09:00") -> str:
    """Add an event to the user's calendar."""
    return f"Event {title!r} added to the calendar on {date} at {time}."


def set_timer(minutes: int, label: str = "") -> str:
    """Start a countdown timer."""
    return f"Timer set for {minutes} minute{'s' if minutes != 1 else ''}" + (f" ({label})." if label else ".")


def get_stock_price(symbol: str) -> str:
    """The latest share price of a stock by its ticker symbol."""
    h = _digest("stock", symbol.upper())
    return f"{symbol.upper()}: {h % 900 + 20}.{h % 100:02d} USD ({'+' if h % 2 else '-'}{h % 30 / 10:.1f}% today)"


def define_word(word: str) -> str:
    """The dictionary definition of an English word."""
    meaning = WORDS.get(word.lower().strip())
    return f"{word}: {meaning}." if meaning else f"No definition found for {word!r}."


def country_facts(country: str) -> str:
    """Capital, currency and population of a country."""
    for name, capital, currency, people in COUNTRIES:
        if name.lower() == country.lower().strip():
            return f"{name}: capital {capital}; currency {currency}; population {people:g} million."
    return f"No facts found for {country!r}."


def roll_dice(sides: int = 6, count: int = 1) -> str:
    """Roll dice and report the results."""
    rolls = [_digest("dice", sides, count, i) % max(1, sides) + 1 for i in range(max(1, min(count, 20)))]
    return f"Rolled {', '.join(map(str, rolls))} (total {sum(rolls)})."


def add_todo(task: str, due: str = "") -> str:
    """Add a task to the user's to-do list."""
    return f"Added to your to-do list: {task}" + (f" (due {due})." if due else ".")


def play_music(query: str) -> str:
    """Play music matching a song, artist, genre or playlist name."""
    return f"Now playing: {query}."


def get_news(topic: str) -> str:
    """Today's top headlines on a topic."""
    h = _digest("news", topic.lower())
    return (f"Headlines on {topic}: 1. New report on {topic} published this morning. "
            f"2. Experts debate the future of {topic}. 3. {h % 90 + 10} percent of readers follow {topic} weekly.")


def set_lights(room: str, on: bool = True, brightness: int = 100) -> str:
    """Switch the smart lights in a room on or off and set their brightness (0-100)."""
    return f"Lights in the {room} turned {'on' if on else 'off'}" + (f" at {brightness}%." if on else ".")


EVERYDAY_TOOLS = (get_weather, convert_currency, convert_units, send_email, create_event, set_timer,
                  get_stock_price, define_word, country_facts, roll_dice, add_todo, play_music, get_news, set_lights)


def everyday_tools() -> list[Any]:
    """The everyday tools as LangChain tools (errors come back to the model as text)."""
    from langchain_core.tools import StructuredTool

    return [StructuredTool.from_function(fn, handle_tool_error=True) for fn in EVERYDAY_TOOLS]


def fetch_tool() -> Any:
    """``http_fetch`` with the real tool's name, description and arguments, answering from
    `content.PAGES` in the real fetcher's result format (nothing touches the network)."""
    from langchain_core.tools import StructuredTool, ToolException

    from genaisys.tools.http_fetch import FetchResult, build_http_fetch_tool

    real = build_http_fetch_tool()
    pages = {url: (title, text) for url, title, text in PAGES}

    def http_fetch(url: str) -> str:
        key = "https://" + url.split("://", 1)[-1]  # the sites answer on http too
        hit = pages.get(key) or pages.get(key.rstrip("/")) or pages.get(key + "/")
        if hit is None:
            raise ToolException(f"fetching {url} failed: the server did not answer (connection refused)")
        title, text = hit
        return FetchResult(url=url, status=200, content_type="text/html; charset=utf-8",
                           text=f"{title}\n\n{text}", truncated=False, redirects=()).for_model()

    return StructuredTool.from_function(func=http_fetch, name=real.name, description=real.description,
                                        args_schema=real.args_schema, handle_tool_error=True)


def _png(prompt: str, signal: Any = None) -> bytes:
    from PIL import Image

    h = _digest("image", prompt or str((signal or {}).get("ref")))
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (h % 256, h // 256 % 256, h // 65536 % 256)).save(buf, format="PNG")
    return buf.getvalue()


def _wav(text: str) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * (800 + 40 * len(text)))
    return buf.getvalue()


def stand_in_decoders() -> dict[str, Any]:
    """Decoders for ``make_decoder_tools`` that write a small PNG / WAV (the tool text is the real one)."""
    return {"image": _png, "speech": _wav}

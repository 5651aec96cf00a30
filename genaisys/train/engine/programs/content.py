"""Slot values for the recorded programs: places, pages, files, notes, words, countries, products.

Plain data, written for training only. The evaluation's held-out sets are written separately
(a test checks that no training record contains them).
"""

from __future__ import annotations

__all__ = ["COUNTRIES", "FILES", "NOTES", "PAGES", "PLACES", "PRODUCTS", "SONGS", "TOPICS", "WORDS"]

# (place as people say it, IANA timezone)
PLACES: tuple[tuple[str, str], ...] = (
    ("New York", "America/New_York"), ("London", "Europe/London"), ("Mumbai", "Asia/Kolkata"),
    ("Sydney", "Australia/Sydney"), ("Berlin", "Europe/Berlin"), ("Los Angeles", "America/Los_Angeles"),
    ("Singapore", "Asia/Singapore"), ("Cairo", "Africa/Cairo"), ("São Paulo", "America/Sao_Paulo"),
    ("Dubai", "Asia/Dubai"), ("Madrid", "Europe/Madrid"), ("Seoul", "Asia/Seoul"), ("Auckland", "Pacific/Auckland"),
    ("Chicago", "America/Chicago"), ("Moscow", "Europe/Moscow"), ("Toronto", "America/Toronto"),
    ("Shanghai", "Asia/Shanghai"), ("Jakarta", "Asia/Jakarta"), ("Lagos", "Africa/Lagos"), ("Rome", "Europe/Rome"),
    ("Mexico City", "America/Mexico_City"), ("Honolulu", "Pacific/Honolulu"), ("Lisbon", "Europe/Lisbon"),
    ("Dublin", "Europe/Dublin"), ("Amsterdam", "Europe/Amsterdam"), ("Brussels", "Europe/Brussels"),
    ("Vienna", "Europe/Vienna"), ("Zurich", "Europe/Zurich"), ("Stockholm", "Europe/Stockholm"),
    ("Oslo", "Europe/Oslo"), ("Copenhagen", "Europe/Copenhagen"), ("Helsinki", "Europe/Helsinki"),
    ("Warsaw", "Europe/Warsaw"), ("Prague", "Europe/Prague"), ("Budapest", "Europe/Budapest"),
    ("Athens", "Europe/Athens"), ("Istanbul", "Europe/Istanbul"), ("Kyiv", "Europe/Kyiv"),
    ("Bucharest", "Europe/Bucharest"), ("Tehran", "Asia/Tehran"), ("Karachi", "Asia/Karachi"),
    ("Delhi", "Asia/Kolkata"), ("Bangalore", "Asia/Kolkata"), ("Dhaka", "Asia/Dhaka"), ("Bangkok", "Asia/Bangkok"),
    ("Hanoi", "Asia/Ho_Chi_Minh"), ("Ho Chi Minh City", "Asia/Ho_Chi_Minh"), ("Manila", "Asia/Manila"),
    ("Hong Kong", "Asia/Hong_Kong"), ("Taipei", "Asia/Taipei"), ("Beijing", "Asia/Shanghai"),
    ("Osaka", "Asia/Tokyo"), ("Kuala Lumpur", "Asia/Kuala_Lumpur"), ("Perth", "Australia/Perth"),
    ("Melbourne", "Australia/Melbourne"), ("Brisbane", "Australia/Brisbane"), ("Adelaide", "Australia/Adelaide"),
    ("Wellington", "Pacific/Auckland"), ("Fiji", "Pacific/Fiji"), ("Anchorage", "America/Anchorage"),
    ("Vancouver", "America/Vancouver"), ("Seattle", "America/Los_Angeles"), ("San Francisco", "America/Los_Angeles"),
    ("Denver", "America/Denver"), ("Phoenix", "America/Phoenix"), ("Dallas", "America/Chicago"),
    ("Houston", "America/Chicago"), ("Miami", "America/New_York"), ("Boston", "America/New_York"),
    ("Atlanta", "America/New_York"), ("Montreal", "America/Toronto"), ("Havana", "America/Havana"),
    ("Bogotá", "America/Bogota"), ("Lima", "America/Lima"), ("Santiago", "America/Santiago"),
    ("Buenos Aires", "America/Argentina/Buenos_Aires"), ("Caracas", "America/Caracas"), ("Nairobi", "Africa/Nairobi"),
    ("Johannesburg", "Africa/Johannesburg"), ("Cape Town", "Africa/Johannesburg"), ("Casablanca", "Africa/Casablanca"),
    ("Accra", "Africa/Accra"), ("Addis Ababa", "Africa/Addis_Ababa"), ("Riyadh", "Asia/Riyadh"),
    ("Doha", "Asia/Qatar"), ("Tel Aviv", "Asia/Jerusalem"), ("Baku", "Asia/Baku"), ("Tashkent", "Asia/Tashkent"),
    ("Kathmandu", "Asia/Kathmandu"), ("Colombo", "Asia/Colombo"), ("Yangon", "Asia/Yangon"),
    ("Reykjavik", "Atlantic/Reykjavik"), ("the Azores", "Atlantic/Azores"), ("Edinburgh", "Europe/London"),
    ("Munich", "Europe/Berlin"), ("Barcelona", "Europe/Madrid"), ("Milan", "Europe/Rome"), ("Lyon", "Europe/Paris"),
    ("Geneva", "Europe/Zurich"), ("Krakow", "Europe/Warsaw"), ("Riga", "Europe/Riga"), ("Tallinn", "Europe/Tallinn"),
    ("Vilnius", "Europe/Vilnius"), ("Sofia", "Europe/Sofia"), ("Belgrade", "Europe/Belgrade"),
    ("Zagreb", "Europe/Zagreb"), ("Minsk", "Europe/Minsk"), ("Almaty", "Asia/Almaty"), ("Novosibirsk", "Asia/Novosibirsk"),
    ("Vladivostok", "Asia/Vladivostok"), ("Ulaanbaatar", "Asia/Ulaanbaatar"), ("Guam", "Pacific/Guam"),
    ("Samoa", "Pacific/Apia"), ("UTC", "UTC"), ("Greenwich", "Europe/London"), ("Tokyo", "Asia/Tokyo"),
    ("Paris", "Europe/Paris"),
)

# (url, page title, page text) — served by the recorded programs' stand-in for the web
PAGES: tuple[tuple[str, str, str], ...] = (
    ("https://en.wikipedia.org/wiki/Ada_Lovelace", "Ada Lovelace",
     "Ada Lovelace (1815-1852) was an English mathematician who wrote the first published algorithm intended for "
     "Charles Babbage's Analytical Engine. She is often called the first computer programmer."),
    ("https://en.wikipedia.org/wiki/Great_Barrier_Reef", "Great Barrier Reef",
     "The Great Barrier Reef is the world's largest coral reef system, stretching over 2,300 kilometres off the "
     "coast of Queensland, Australia."),
    ("https://www.python.org/about/", "About Python",
     "Python is a programming language that lets you work quickly and integrate systems more effectively. "
     "It is developed under an open source license."),
    ("https://docs.rust-lang.org/book/", "The Rust Programming Language",
     "This book teaches Rust from the ground up: ownership, borrowing, structs, enums, error handling and "
     "fearless concurrency."),
    ("https://www.example.com/", "Example Domain",
     "This domain is for use in illustrative examples in documents. You may use this domain in literature "
     "without prior coordination or asking for permission."),
    ("https://news.example.org/tech/solar-record", "Solar power sets a new record",
     "Solar farms produced a record 42 percent of the region's electricity on Sunday, the grid operator said."),
    ("https://shop.example.net/products/kettle-2", "Kettle 2 - product page",
     "Kettle 2 boils 1.7 litres in under four minutes. It costs $49 and comes with a two-year warranty."),
    ("https://blog.example.io/posts/sourdough", "How I bake sourdough",
     "My sourdough needs a 12-hour rise, a hot Dutch oven and 45 minutes of baking at 230 degrees Celsius."),
    ("https://weather.example.com/oslo", "Oslo forecast",
     "Oslo this week: light snow on Monday, clear skies from Wednesday, highs of minus 2 degrees."),
    ("https://recipes.example.org/pancakes", "Fluffy pancakes",
     "Mix 200 g flour, 2 eggs, 300 ml milk and a pinch of salt. Fry each pancake for about a minute per side."),
    ("https://www.nature.example/articles/bees", "Bees navigate by the sun",
     "Honeybees use the position of the sun as a compass and can still find home on cloudy days."),
    ("https://museum.example.org/visit", "Plan your visit",
     "The museum is open Tuesday to Sunday from 10:00 to 18:00. Entry is free on the first Sunday of each month."),
    ("https://jobs.example.com/data-engineer", "Data engineer (remote)",
     "We are hiring a data engineer to build pipelines in Python and SQL. The role is fully remote."),
    ("https://github.com/example/tinydb", "tinydb: a tiny document database",
     "tinydb is a lightweight document-oriented database written in pure Python with no external dependencies."),
    ("https://transit.example.city/line-4", "Line 4 timetable",
     "Line 4 trains run every 6 minutes at peak times and every 12 minutes in the evening."),
    ("https://library.example.edu/hours", "Library opening hours",
     "The main library is open 8:00-22:00 on weekdays and 10:00-18:00 at weekends."),
    ("https://www.gardening.example/tomatoes", "Growing tomatoes",
     "Tomatoes need six to eight hours of sun a day and should be watered deeply twice a week."),
    ("https://space.example.org/missions/europa", "Europa mission",
     "The probe will reach Jupiter's moon Europa in 2030 and look for signs of an ocean under the ice."),
    ("https://pypi.example.org/project/fastjson", "fastjson 3.2.0",
     "fastjson is a fast JSON parser for Python. Install it with pip install fastjson. Requires Python 3.9+."),
    ("https://status.example.cloud/", "Service status",
     "All systems operational. The last incident, a 12-minute storage outage, was resolved on Friday."),
)

# (file name, content) — written into the recorded programs' file folder
FILES: tuple[tuple[str, str], ...] = (
    ("todo.md", "- renew passport\n- book dentist appointment\n- send invoice to Meyer GmbH"),
    ("shopping.txt", "eggs\noat milk\ntomatoes\ncoffee beans\ndish soap"),
    ("meeting-notes.txt", "Team sync, Monday: release moved to 14 March. Priya owns the migration; Tom writes the docs."),
    ("budget.csv", "item,cost\nrent,950\nfood,320\ntransport,85\ninternet,40"),
    ("settings.toml", "[server]\nport = 8080\nworkers = 4\n\n[log]\nlevel = \"info\""),
    ("app.py", "import sys\n\ndef greet(name):\n    return f'Hello, {name}!'\n\nprint(greet(sys.argv[1]))"),
    ("poem.txt", "The river keeps no calendar,\nit only knows the sea."),
    ("recipe.md", "# Lentil soup\n1 onion, 2 carrots, 200 g red lentils, 1 l stock. Simmer for 25 minutes."),
    ("contacts.txt", "Ana Silva - ana@example.com\nLee Wong - lee@example.org"),
    ("CHANGELOG.md", "## 2.1.0\n- added dark mode\n- fixed crash on empty input"),
    ("notes/ideas.txt", "1. a bot that waters plants\n2. a map of quiet cafés"),
    ("reports/q2.txt", "Q2 revenue was 1.8 million, up 9 percent; costs fell 3 percent."),
    ("data/readings.json", "{\"sensor\": \"kitchen\", \"temperature\": 21.5, \"humidity\": 48}"),
    ("letter.txt", "Dear Sam, thank you for the lovely flowers. See you in June. Love, Maria"),
    ("travel.md", "Flight LH 402 leaves at 07:40 from gate B12; hotel check-in after 15:00."),
)

# facts people ask an assistant to remember
NOTES: tuple[str, ...] = (
    "my bike lock code is 4172", "the wifi password at the cabin is pinecone88", "Anna's birthday is on 3 May",
    "I parked on level 3, row F", "the plumber is coming on Thursday at 10", "my passport expires in August 2027",
    "Leo is allergic to peanuts", "the spare key is under the blue pot", "my gym class is on Tuesdays at 7 pm",
    "the printer toner model is TN-2420", "I owe Marco 25 euros", "the project deadline is 30 November",
    "my dentist is Dr. Okafor", "the cat's vet appointment is on the 12th", "I prefer window seats",
    "my locker number is 118", "the recycling goes out on Wednesdays", "my favourite tea is jasmine",
    "the garage door code is 9031", "my shoe size is 43", "Grandma's flight lands at 16:20",
    "I started the sourdough starter on Sunday", "the meeting room is 4B", "my library card number is 22817",
)

WORDS: dict[str, str] = {
    "ephemeral": "lasting for a very short time", "ubiquitous": "present or found everywhere",
    "serendipity": "the chance finding of something good without looking for it",
    "meticulous": "showing great attention to detail", "resilient": "able to recover quickly from difficulties",
    "benevolent": "kind and meaning to do good", "candid": "truthful and straightforward",
    "frugal": "careful not to spend more money than needed", "gregarious": "fond of company; sociable",
    "lethargic": "sluggish and lacking energy", "pragmatic": "dealing with things in a practical way",
    "tenacious": "holding firmly to a purpose; persistent", "verbose": "using more words than needed",
    "wistful": "having a gentle longing, often for the past", "zealous": "full of energetic enthusiasm",
    "obsolete": "no longer in use; out of date", "mundane": "ordinary and not interesting",
    "lucid": "clear and easy to understand", "nostalgia": "a sentimental longing for the past",
    "ambiguous": "open to more than one meaning",
}

# (country, capital, currency, population in millions)
COUNTRIES: tuple[tuple[str, str, str, float], ...] = (
    ("France", "Paris", "euro", 68.2), ("Japan", "Tokyo", "yen", 124.5), ("Brazil", "Brasília", "real", 203.1),
    ("Kenya", "Nairobi", "Kenyan shilling", 55.1), ("Canada", "Ottawa", "Canadian dollar", 40.1),
    ("Australia", "Canberra", "Australian dollar", 26.6), ("India", "New Delhi", "rupee", 1428.6),
    ("Germany", "Berlin", "euro", 84.5), ("Mexico", "Mexico City", "peso", 128.5), ("Egypt", "Cairo", "Egyptian pound", 105.9),
    ("Norway", "Oslo", "Norwegian krone", 5.5), ("Vietnam", "Hanoi", "dong", 98.9), ("Peru", "Lima", "sol", 34.4),
    ("Poland", "Warsaw", "złoty", 36.7), ("Nigeria", "Abuja", "naira", 223.8), ("Thailand", "Bangkok", "baht", 71.8),
    ("Chile", "Santiago", "Chilean peso", 19.6), ("Spain", "Madrid", "euro", 48.3), ("Turkey", "Ankara", "lira", 85.3),
    ("South Korea", "Seoul", "won", 51.7), ("Argentina", "Buenos Aires", "Argentine peso", 46.6),
    ("Morocco", "Rabat", "dirham", 37.8), ("Switzerland", "Bern", "Swiss franc", 8.9), ("Portugal", "Lisbon", "euro", 10.5),
)

SONGS: tuple[str, ...] = (
    "some jazz", "Bohemian Rhapsody", "lo-fi beats for studying", "the Beatles", "classical piano",
    "my running playlist", "rain sounds", "Taylor Swift", "something upbeat", "Miles Davis",
)

TOPICS: tuple[str, ...] = (
    "electric cars", "the football league", "climate policy", "space exploration", "the stock market",
    "artificial intelligence", "local elections", "the Olympics", "renewable energy", "health research",
)

# made-up products for the documentation the assistant retrieves from. None shares a name with a
# held-out document's subject (`genaisys.datasets.heldout.document_subjects`; a test checks it):
# until December 2026 six of them did (Tidewater, Kestrel, Orchard, Nimbusdb, Lumen Notes, Northwind
# Sync), so cores trained before then read made-up facts about the held-out RAG suite's products.
PRODUCTS: tuple[str, ...] = (
    "Quillmate", "Borealis", "Marshlight", "Kingfisher", "Ferroflow", "Larkspur", "Stratusdb", "Meadowlark",
    "Pylon", "Quartzline", "Riverbend", "Saltbox", "Thistle", "Umbra", "Vantage", "Willowcast",
    "Zephyrgate", "Amberlog", "Brightpath", "Cobalt Relay", "Driftwood", "Emberly", "Foxglove", "Graniteworks",
    "Halcyon", "Ironbark", "Juniper CI", "Kiteflow", "Lantern Notes", "Mosswell", "Eastgate Sync", "Opaline",
)

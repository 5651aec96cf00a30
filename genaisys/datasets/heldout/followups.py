"""The held-out follow-up threads: later turns need an earlier answer or tool result
(`genaisys.eval.heldout.followups` runs them)."""

from __future__ import annotations

__all__ = ["MEMORY_DOCS", "THREADS"]

MEMORY_DOCS = ("harbor-README.md", "lumen-faq.txt", "orchard-config-guide.md", "tidewater-api-reference.md",
               "glimmer-troubleshooting.md", "kestrel-backups-howto.txt")

# (thread id, [(user turn, gold phrase or None for a set-up turn), ...])
THREADS: tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...] = (
    ("multiply", (("What is 23 times 17?", "391"),
                  ("And what is that divided by 4?", "97.75"),
                  ("Repeat the first number you computed.", "391"))),
    ("subtract", (("Please calculate 1250 minus 378.", "872"),
                  ("Now double that.", "1744"),
                  ("What did I ask you first?", "1250&378"))),
    ("percent", (("How much is 15% of 240?", "36"),
                 ("Add 64 to that result.", "100"),
                 ("What percentage did I ask about?", "15"))),
    ("harbor-port", (("According to the docs, which port does the Harbor daemon listen on?", "7420"),
                     ("What port did you say it uses?", "7420"),
                     ("What is that port number plus 1000?", "8420"))),
    ("lumen-warranty", (("How long is the Lumen lamp warranty?", "3 years|three years|3 year|3-year"),
                        ("And how many months is that?", "36|thirty six"),
                        ("Which product were we talking about?", "lumen"))),
    ("orchard-workers", (("What is the default number of Orchard workers?", "8|eight"),
                         ("If I triple that, how many workers would I have?", "24|twenty four"),
                         ("What was the number before tripling?", "8|eight"))),
    ("name-city", (("My name is Ottilie and I live in Porto.", None),
                   ("What is my name?", "ottilie"),
                   ("Which city did I say I live in?", "porto"))),
    ("cats", (("I have three cats named Miso, Tofu and Nori.", None),
              ("How many cats did I tell you I have?", "3|three"),
              ("What is the name of the second cat I mentioned?", "tofu"))),
    ("tokyo-day", (("What day of the week is it in Tokyo right now?", "weekday:Asia/Tokyo"),
                   ("And which day did you say it was?", "weekday:Asia/Tokyo"),
                   ("Is that a weekend day?", "weekend:Asia/Tokyo"))),
    ("year", (("What year is it right now in UTC?", "year:UTC"),
              ("How many years are left until 2100 from the year you told me?", "years_until:2100:UTC"),
              ("Which year did you say it is?", "year:UTC"))),
    ("remember-number", (("Remember the number 58 for me.", None),
                         ("Multiply the number I gave you by 12.", "696"),
                         ("What number did I give you?", "58"))),
    ("tidewater-rate", (("What is the rate limit of the Tidewater API per minute?", "120"),
                        ("How many requests is that per hour?", "7200"),
                        ("Which API was that?", "tidewater"))),
    ("glimmer", (("Which command clears Glimmer's build cache?", "glimmer clean"),
                 ("What was the command you just gave me?", "glimmer clean"),
                 ("And on which port does its preview server run?", "4005"))),
    ("canada", (("What is the capital of Canada?", "ottawa"),
                ("What did I ask you first?", "capital&canada"),
                ("How many letters does the city you named have?", "6|six"))),
    ("power-chain", (("Compute 7 to the power of 3.", "343"),
                     ("Subtract 43 from that.", "300"),
                     ("Divide the last result by 3.", "100"))),
    ("kestrel-days", (("How many days are Kestrel dumps kept by default?", "14|fourteen"),
                      ("How many weeks is that?", "2|two"),
                      ("Which database tool is this about?", "kestrel"))),
)

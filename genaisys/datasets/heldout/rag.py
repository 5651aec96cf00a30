"""The held-out retrieval questions over ``docs/`` (ten made-up product documents), answerable and not
(`genaisys.eval.heldout.rag` runs them)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DOCS_DIR", "QUESTIONS", "UNANSWERABLE"]

#: ten short product documents written for the held-out retrieval suite, never for training.
DOCS_DIR = Path(__file__).parent / "docs"

# (id, question, gold phrase ("a|b" any of, "a&b" all of), gold file)
QUESTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("harbor-1", "Which release of Harbor is the current one?", "2.3.1", "harbor-README.md"),
    ("harbor-2", "What command installs Harbor with pipx?", "pipx install harbor-sync", "harbor-README.md"),
    ("harbor-3", "On which port does the Harbor daemon serve its status page?", "7420", "harbor-README.md"),
    ("harbor-4", "What is the highest value Harbor accepts for --parallel?", "32", "harbor-README.md"),
    ("harbor-5", "Where does harbor init save its settings?", "harbor.toml", "harbor-README.md"),
    ("harbor-6", "Under which license is Harbor released?", "mozilla public license|mpl-2.0|mpl 2.0|mpl",
     "harbor-README.md"),
    ("tide-1", "How many requests per minute may one Tidewater API key make?", "120", "tidewater-api-reference.md"),
    ("tide-2", "Which HTTP header carries the Tidewater API key?", "x-tide-key", "tidewater-api-reference.md"),
    ("tide-3", "What is the largest page_size the Tidewater stations endpoint accepts?", "200",
     "tidewater-api-reference.md"),
    ("tide-4", "How many days ahead does a Tidewater forecast cover if I don't set the days parameter?", "3|three",
     "tidewater-api-reference.md"),
    ("tide-5", "What does the Tidewater error code TW-404-STATION mean?",
     "does not exist|doesn't exist|not exist|unknown station|no such station", "tidewater-api-reference.md"),
    ("tide-6", "How often are Tidewater observations sampled?", "6 minutes|six minutes|every 6",
     "tidewater-api-reference.md"),
    ("lumen-1", "How long must I hold the power button to factory-reset a Lumen lamp?", "12|twelve", "lumen-faq.txt"),
    ("lumen-2", "How many hours does a Lumen battery last at medium brightness?", "9|nine", "lumen-faq.txt"),
    ("lumen-3", "What is the warmest colour temperature a Lumen lamp can produce?", "2700", "lumen-faq.txt"),
    ("lumen-4", "How long is the warranty on a Lumen lamp?", "3 years|three years|3 year|3-year", "lumen-faq.txt"),
    ("lumen-5", "What is the name of the app that controls Lumen?", "lumen home", "lumen-faq.txt"),
    ("lumen-6", "Which firmware version fixed the Lumen flicker at low brightness?", "1.8", "lumen-faq.txt"),
    ("quill-1", "What is the maximum attachment size in Quillpad 4.2.0?", "100 mb|100", "quillpad-release-notes.md"),
    ("quill-2", "Which Quillpad version added export to PDF?", "4.1.0", "quillpad-release-notes.md"),
    ("quill-3", "How often does Quillpad sync in the background since version 4.2.0?", "90 seconds|90",
     "quillpad-release-notes.md"),
    ("quill-4", "Which Quillpad release fixed the startup crash caused by a missing dictionary?", "4.1.2",
     "quillpad-release-notes.md"),
    ("quill-5", "What keyboard shortcut toggles focus mode in Quillpad?", "ctrl+shift+f", "quillpad-release-notes.md"),
    ("orchard-1", "How many workers does Orchard run by default?", "8|eight", "orchard-config-guide.md"),
    ("orchard-2", "On which port does the Orchard dashboard listen?", "9181", "orchard-config-guide.md"),
    ("orchard-3", "How many attempts does Orchard make at a failed job by default?", "5|five",
     "orchard-config-guide.md"),
    ("orchard-4", "Which environment variable tells Orchard where to find orchard.yaml?", "orchard_home",
     "orchard-config-guide.md"),
    ("orchard-5", "What is the default log level of Orchard?", "info", "orchard-config-guide.md"),
    ("kestrel-1", "Which command makes a compressed Kestrel backup?", "kestrel dump", "kestrel-backups-howto.txt"),
    ("kestrel-2", "For how many days are Kestrel dumps kept by default?", "14|fourteen", "kestrel-backups-howto.txt"),
    ("kestrel-3", "At what time does the packaged cron entry run the Kestrel dump?", "03:00|3:00|3 am|3am|0 3",
     "kestrel-backups-howto.txt"),
    ("kestrel-4", "Which encryption do Kestrel dumps use?", "aes-256|aes 256|aes256|aes", "kestrel-backups-howto.txt"),
    ("north-1", "Which VPN client does Northwind Robotics use?", "tunnelgate", "northwind-onboarding.md"),
    ("north-2", "How often are laptops replaced at Northwind Robotics?", "4 years|four years|every 4",
     "northwind-onboarding.md"),
    ("north-3", "What is the daily meal allowance when travelling for Northwind Robotics?", "60",
     "northwind-onboarding.md"),
    ("north-4", "On which day does a Northwind Robotics on-call shift start?", "monday", "northwind-onboarding.md"),
    ("glimmer-1", "Which port does glimmer serve use for the preview?", "4005", "glimmer-troubleshooting.md"),
    ("glimmer-2", "What does Glimmer error G104 mean?", "front matter|front-matter", "glimmer-troubleshooting.md"),
    ("glimmer-3", "Which command clears Glimmer's build cache?", "glimmer clean", "glimmer-troubleshooting.md"),
    ("ferrule-1", "What is the maximum line length in the Ferrule project?", "100", "ferrule-style-guide.txt"),
    ("ferrule-2", "How many approving reviews does a Ferrule pull request need?", "2|two", "ferrule-style-guide.txt"),
    ("ferrule-3", "How long may the subject line of a Ferrule commit be?", "72", "ferrule-style-guide.txt"),
    ("nimbus-1", "How much memory does a Nimbus free-plan instance get?", "512", "nimbus-plans-and-limits.txt"),
    ("nimbus-2", "What does the Nimbus Cumulus plan cost per month?", "19", "nimbus-plans-and-limits.txt"),
    ("nimbus-3", "After how long without traffic are idle Nimbus free instances put to sleep?", "30 minutes|30",
     "nimbus-plans-and-limits.txt"),
    ("nimbus-4", "Which regions can Nimbus deploy to?", "frankfurt&oregon&singapore", "nimbus-plans-and-limits.txt"),
)
# Questions about the same products that no document answers: the right answer declines.
UNANSWERABLE: tuple[tuple[str, str], ...] = (
    ("unk-01", "Who founded the company that makes Harbor?"),
    ("unk-02", "How much does a Harbor enterprise licence cost per year?"),
    ("unk-03", "What is the monthly price of a Tidewater API key?"),
    ("unk-04", "Which programming languages have official Tidewater client libraries?"),
    ("unk-05", "How much does a Lumen lamp weigh?"),
    ("unk-06", "Which languages does the Lumen Home app support?"),
    ("unk-07", "When will Quillpad 5.0 be released?"),
    ("unk-08", "How many notes can a free Quillpad account hold?"),
    ("unk-09", "How much RAM does the Orchard scheduler need?"),
    ("unk-10", "What does Kestrel error code K-17 mean?"),
    ("unk-11", "How many vacation days do new Northwind Robotics employees get?"),
    ("unk-12", "What is the maximum number of pages a Glimmer site can have?"),
    ("unk-13", "What uptime does Nimbus guarantee?"),
    ("unk-14", "Which database does Nimbus use for its own control plane?"),
    ("unk-15", "Who maintains the Ferrule project?"),
    ("unk-16", "What is the default timeout of an Orchard job?"),
)

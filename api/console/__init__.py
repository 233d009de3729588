"""The server-rendered console at /console: Jinja2 templates, vendored htmx, Babel catalogs.

Japanese by default, English through the ``en`` catalog. People are shown by 職員番号 and name,
times in JST. Authentication goes through one seam, ``deps.ConsoleUser``."""

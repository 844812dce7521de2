"""The operator's status page (DESIGN §11): `GET /` (HTML) and `GET /api/status` (JSON).

model.py   the view model, one frozen tree for both renderings
collect.py the one function that reads the daemon (`collect`), and the `Feeds` other features fill
index.py   the timeline sorted by start, so no request looks at every window
ledger.py  bounded memories of settled commands: last errors, each window's last command
render.py  Jinja2 (autoescaped) HTML, JSON, and the security headers
web.py     the aiohttp handlers, served from the status thread
"""

"""The merchant and ops dashboard: static HTML, CSS and vanilla JavaScript served by the views process.

``static/`` holds the page (no build step, nothing fetched from the network at run time); ``web`` mounts it on
the views API and lets the commands API answer the page's cross-origin requests. See docs/dashboard.md.
"""

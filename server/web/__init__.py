"""Server-rendered pages: templates, styles, and what every page response carries."""

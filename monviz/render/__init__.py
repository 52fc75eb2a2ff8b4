"""Static renderings (HTML, SVG) that need no running kernel; every user string escaped."""

"""Pages that must work from ``file://`` alone: every other request is refused and listed."""


def refuse_network(context) -> list[str]:
    """Route *context* so only ``file://`` loads; return the list the refused URLs go to."""
    refused: list[str] = []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return refused

def match_panel(*a, **k):  # placeholder
    raise NotImplementedError

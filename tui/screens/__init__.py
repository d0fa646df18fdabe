"""One screen per concern: runs, new run, live run, candidates, sample, diff, stats."""

"""Reports the bad-input suite's size and time at the end of a test session."""


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    report = getattr(config, "sgs_bad_input", None)
    if report:
        terminalreporter.write_line(
            f"bad-input suite: {report['cases']} cases through the CLI in {report['wall_s']:.1f} s "
            f"(slowest: {report['slowest']}, {report['slowest_s']:.1f} s)")

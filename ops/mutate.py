"""`make mutate`: mutmut 3 over components/ and the policy pack, against the fast tier, cached in .mutmut/.

    python -m ops.mutate                      # the security-relevant modules (default selection)
    python -m ops.mutate components/edge/*    # modules by glob (repo paths)
    python -m ops.mutate --all                # every module (hours: see docs)
    python -m ops.mutate --report             # print the cached results only
    python -m ops.mutate --budget 30          # stop cleanly after 30 minutes; a re-run resumes

The staging, the runs and the cached verdicts: ops/measure/mutation.py.
"""

from __future__ import annotations

import argparse

from ops.measure.mutation import generate, pending_globs, report, run, security_patterns, selected, stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*",
                        help="repo-path globs, each optionally ::function-glob (default: the security-relevant builders)")
    parser.add_argument("--all", action="store_true", help="every module of components/ and the policy pack")
    parser.add_argument("--report", action="store_true", help="only print the cached results")
    parser.add_argument("--retest-survivors", action="store_true", help="re-run survivors too (after test changes)")
    parser.add_argument("--budget", type=float, help="minutes after which mutmut is stopped (results kept)")
    args = parser.parse_args()
    stage()
    if not args.report:
        generate()
    selection = selected(args.modules or security_patterns(), args.all)
    if not args.report:
        run(pending_globs(selection, args.retest_survivors), args.budget)
    report(selection, security=not args.modules and not args.all)


if __name__ == "__main__":
    main()

"""The profiled child: ``python -m bench.profile_target URL CASES [cold]`` runs referral cases on an
already deployed benchmark database (py-spy samples this process)."""

from __future__ import annotations

import sys


def main() -> None:
    from bench import models as M
    from bench.wl_engine import cold_engine, run_cases
    from engine.db import Database
    from processes.wiring import build_engine

    url, cases = sys.argv[1], int(sys.argv[2])
    db = Database(url)
    eng, _ = build_engine(db)
    eng.deploy_files(M.all_files())
    if len(sys.argv) > 3 and sys.argv[3] == "cold":
        eng = cold_engine(db) or eng
    run_cases(eng, 2, prefix="SPYWARM")
    done, spent, _ = run_cases(eng, cases, prefix="SPY")
    print(f"{done} {spent}")


if __name__ == "__main__":
    main()

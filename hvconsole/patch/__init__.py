"""The patch engine: executes a :class:`~hvconsole.core.patch.plan.PatchPlan` against real
(or simulated) hosts, one journalled step at a time.

The decisions that need no network live in ``hvconsole.core.patch`` (plan, journal, step
decisions, report); this package does the I/O, always through ``hvconsole.remote``:

- ``engine``     the front door: open the journal, create a run, execute (= resume) it;
- ``host_api``   typed calls to the shipped ``patch_*.ps1`` scripts (docs/patching.md
                 "Script contract") and fresh snapshots through the collector;
- ``context``    what one run and one host need while the steps execute;
- ``control``    pause / continue / cancel / promote / halt requested through the journal,
                 and the run lock;
- ``waiting``    bounded waits: a reboot (gone, then back with a new boot), settling VMs;
- ``host_steps`` one function per step; ``preflight`` (pure judgement), ``staging``,
                 ``vm_steps`` and ``install_steps`` hold the larger ones;
- ``soak``       the health gate after the test ring;
- ``runner``     waves, hosts in parallel, the failure and cancel paths;
- ``planning``   the planning service the CLI and the wizard share: draft -> plan, survey,
                 package and pre-flight checks, the review the admin confirms;
- ``journal_access``  the journal and who executes a run, without the engine (the CLI's
                 short commands import only this);
- ``run_view``, ``watch``   a run, open maintenance windows, interrupted and active runs,
                 read from the journal only (whichever process executes the run);
- ``sites``, ``survey``, ``text``   the HostDirectory (targets -> PatchHost, stager),
                 compliance polls, and ``clean()`` for host text. Sites are built by
                 ``hvconsole.site``; the CLI's views are ``hvconsole.cli.patch_text``.

The run's vocabulary (states, steps, outcomes, progress events) is
``hvconsole.core.patch.vocabulary``. Nothing here imports Qt or the simulator: the GUI
observes the journal.
"""

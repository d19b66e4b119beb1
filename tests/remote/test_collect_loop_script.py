"""collect.ps1's loop mode (``-HvcLoop``), read statically: PowerShell cannot run here, so
these tests check the script text against the fixed protocol (docs/collection-script.md
"Loop mode"; the client and the simulator side are tested in test_collect_loop.py and the
simulator's tests). The one-shot path and its exit codes are in test_ps_collect.py."""

from __future__ import annotations

import base64
import json
import re

from test_ps_scripts import LOOP_PARAM_LINE, body, code_only, parse, syntax_problems, text, top_statements, walk
from tree_sitter import Node

from hvconsole.remote import loader


def function(name: str) -> Node:
    (fn,) = [n for n in walk(parse(body("collect")).root_node) if n.type == "function_statement"
             and re.match(rf"function {name}\b", text(n))]
    return fn


def script_value(name: str) -> str:
    """The right-hand side of the script-level assignment ``$name = ...``."""
    (value,) = re.findall(rf"^\${name} = (.+)$", body("collect"), re.M)
    return value


def ps_single_quoted(literal: str) -> str:
    assert literal.startswith("'") and literal.endswith("'")
    return literal[1:-1].replace("''", "'")


def test_the_loop_loader_parses_and_passes_the_switch_the_script_declares():
    call = loader.prepare_loop_call("collect")
    src = base64.b64decode(call.arguments.rsplit(" ", 1)[1]).decode("utf-16-le")
    assert syntax_problems(src) == []
    assert "-HvcLoop;" in src and "-HvcParams" not in src
    assert body("collect").splitlines()[1] == LOOP_PARAM_LINE


def test_the_loop_rules_are_the_protocols():
    assert script_value("loopIdleMs") == "120000"
    assert script_value("loopMaxAnswers") == "720"
    assert script_value("loopMaxSeconds") == "3600"
    loop = text(function("Invoke-CollectLoop"))
    assert "$task.Wait($loopIdleMs)" in loop
    assert "$answered -ge $loopMaxAnswers" in loop and "$alive.Elapsed.TotalSeconds -ge $loopMaxSeconds" in loop
    # The limits are checked after the answer is written: the last request is answered first.
    assert loop.index("[Console]::Out.Write($seq") < loop.index("$answered -ge $loopMaxAnswers")


def test_a_bad_line_is_answered_with_seq_0_and_ends_with_exit_code_2():
    line = ps_single_quoted(script_value("loopBadLine"))
    assert line == '0 {"hvc_error":{"message":"bad request line"}}'
    assert json.loads(line.split(" ", 1)[1]) == {"hvc_error": {"message": "bad request line"}}
    loop = text(function("Invoke-CollectLoop"))
    bad = loop[loop.index("[Console]::Out.Write($loopBadLine"):]
    assert re.match(r"\[Console\]::Out\.Write\(\$loopBadLine \+ \"`n\"\)\s+\[Console\]::Out\.Flush\(\)\s+"
                    r"\$State\.exit_code = 2\s+return", bad)
    main = [text(st) for st in top_statements(body("collect"))]
    (loop_branch,) = [st for st in main if st.startswith("if ($HvcLoop)")]
    assert "[Environment]::Exit($loop.exit_code)" in loop_branch


def test_the_request_pattern_takes_the_clients_lines_and_refuses_others():
    pattern = re.compile(ps_single_quoted(script_value("requestLine")))
    good = loader.request_line(1, {"events_since": None, "max_events": 200}).decode("ascii").rstrip("\n")
    assert pattern.match(good)
    assert pattern.match(loader.request_line(loader.SEQ_MAX, {}).decode("ascii").rstrip("\n"))
    for bad in ("", "1", "1 ", " 1 e30=", "x e30=", "1 e30=; Remove-Item", "1  e30=", "12345678901 e30=",
                "1 $x", "-1 e30="):
        assert not pattern.match(bad), bad
    # The range is checked after the match: 0 and numbers past 2^31-1 are bad lines too.
    loop = text(function("Invoke-CollectLoop"))
    assert "if ($seq -lt 1 -or $seq -gt [int]::MaxValue)" in loop
    assert "$line.TrimEnd([char]13)" in loop   # a trailing CR is ignored


def test_the_answer_line_is_seq_space_answer_newline_flushed():
    loop = text(function("Invoke-CollectLoop"))
    assert re.search(r"\[Console\]::Out\.Write\(\$seq\.ToString\(\$inv\) \+ ' ' \+ \$poll\.answer \+ \"`n\"\)\s+"
                     r"\[Console\]::Out\.Flush\(\)", loop)
    # The poll's answer is exactly the one-shot call's: the same function fills it.
    assert "$null = Invoke-CollectPoll $request.Groups[2].Value $cpuMs $poll" in loop


def test_the_loop_reads_stdin_through_its_own_waitable_reader():
    loop = text(function("Invoke-CollectLoop"))
    assert "New-Object IO.StreamReader([Console]::OpenStandardInput(), (New-Object Text.UTF8Encoding $false))" in loop
    assert "$reader.ReadLineAsync()" in loop
    # [Console]::In's ReadLineAsync runs synchronously on .NET Framework: never used here.
    assert "[Console]::In" not in code_only(loop)
    assert "if ($null -eq $line) { return }" in loop      # end of input ends the loop, exit code 0


def test_no_exit_inside_the_per_poll_work_or_the_loop():
    for name in ("Invoke-CollectPoll", "Invoke-CollectLoop"):
        fn = function(name)
        exits = [text(n) for n in walk(fn) if n.type == "flow_control_statement" and text(n).lower().startswith("exit")]
        assert exits == [], (name, exits)
        assert "[Environment]::Exit(" not in code_only(text(fn)), name


def test_a_poll_that_abandoned_a_query_ends_the_loop_after_its_answer():
    loop = text(function("Invoke-CollectLoop"))
    assert "$abandoned.Count -gt 0) { return }" in loop


def test_the_one_shot_path_is_still_there():
    main = [text(st) for st in top_statements(body("collect"))]
    i = main.index("$null = Invoke-CollectPoll $HvcParams 0 $poll")
    assert main[i + 1:i + 3] == ["[Console]::Out.Write($poll.answer)", "[Console]::Out.Flush()"]
    assert main[-2:] == ["if ($poll.failed) { exit 1 }", "exit 0"]
    # The loop branch comes first and never falls through to the one-shot call.
    assert main.index(next(st for st in main if st.startswith("if ($HvcLoop)"))) < i


def test_the_loop_reports_each_polls_own_cpu():
    loop = text(function("Invoke-CollectLoop"))
    assert "$cpuMs = [Diagnostics.Process]::GetCurrentProcess().TotalProcessorTime.TotalMilliseconds" in loop
    assert "- $CpuBaseMs)" in text(function("Get-OwnCost"))


def test_a_finished_query_frees_its_runspace_in_the_loop():
    # [powershell]::Create(<InitialSessionState>) opens a runspace and hands it over through
    # the public Runspace setter, which leaves IsRunspaceOwner false, and PowerShell.Dispose()
    # disposes the runspace only when it owns it (PowerShell/PowerShell,
    # src/System.Management.Automation/engine/hostifaces/PowerShell.cs: Create(InitialSessionState),
    # the Runspace setter's SetRunspace(value, false), Dispose(bool)). So disposing the
    # PowerShell alone would leave every poll's open runspace, its session state and the
    # modules loaded into it, in the loop's process until it ends.
    start = text(function("Start-BoundedQuery"))
    assert "[powershell]::Create([Management.Automation.Runspaces.InitialSessionState]::CreateDefault2())" in start
    close = code_only(text(function("Close-FinishedQuery")))
    guards, freed = close[:close.index("try {")], close[close.index("try {"):]
    assert "$Job.Shell.Dispose()" in freed
    assert re.search(r"\$(\w+) = \$Job\.Shell\.Runspace\b", freed), "the runspace must be taken before Dispose"
    runspace = re.search(r"\$(\w+) = \$Job\.Shell\.Runspace\b", freed)[1]
    assert f"${runspace}.Dispose()" in freed
    # Only in the loop, and only a finished pipeline's: a stuck one is abandoned (disposing
    # it blocks like Stop()).
    for guard in ("-not $HvcLoop", "$abandoned.Contains($Job.Shell)", "-not $Job.Handle.IsCompleted"):
        assert guard in guards, guard
    assert "Dispose()" not in code_only(text(function("Wait-BoundedQuery")))
    # after each wait for a query
    src = code_only(text(function("Invoke-CollectPoll"))) + code_only(text(function("Get-ClusterInfo")))
    assert "Wait-BoundedQuery $vmJob $vmTimeoutMs\n    Close-FinishedQuery $vmJob" in src
    assert "Wait-BoundedQuery $Job $TimeoutMs\n  Close-FinishedQuery $Job" in src


def test_the_loaders_never_name_dollar_input_so_powershell_leaves_stdin_to_the_loop():
    # powershell.exe reads stdin itself (all of it, into the pipeline's input) only when the
    # -Command / -EncodedCommand text uses $input (ConsoleHost's initial command:
    # AstSearcher.IsUsingDollarInput -> Executor.ExecutionOptions.ReadInputObjects; the same in
    # Windows PowerShell's console host). The loop's own reader must be the only one.
    for call in (loader.prepare_loop_call("collect"), loader.prepare_call("collect", {"max_events": 1})):
        src = base64.b64decode(call.arguments.rsplit(" ", 1)[1]).decode("utf-16-le")
        variables = {text(n).lower() for n in walk(parse(src).root_node) if n.type == "variable"}
        assert variables and "$input" not in variables, variables
        assert "$input" not in src.lower()

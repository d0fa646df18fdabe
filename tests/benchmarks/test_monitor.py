"""Peak memory polling: nvidia-smi's CSV parsed per GPU, absent tools give None."""
import os
import stat

from real_workload.monitor import MemoryMonitor, gpu_memory, host_memory_used


def fake_smi(tmp_path, values):
    script = tmp_path / "smi"
    counter = tmp_path / "n"
    counter.write_text("0")
    lines = "\\n".join(values)
    script.write_text("#!/bin/sh\n"
                      f"n=$(cat {counter}); echo $((n+1)) > {counter}\n"
                      f"printf '{lines}\\n' | sed -n \"$((n % {len(values)} + 1))p\" | tr ';' '\\n'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return (str(script),)


def test_peak_per_gpu_over_polls(tmp_path):
    cmd = fake_smi(tmp_path, ["1000, 143771;10, 143771", "5000, 143771;20, 143771", "2000, 143771;5, 143771"])
    mon = MemoryMonitor(smi_cmd=cmd)
    for _ in range(3):
        mon.poll()
    s = mon.summary()
    assert s["gpu_peak_mib"] == [5000.0, 20.0]
    assert s["gpu_at_start_mib"] == [1000.0, 10.0]
    assert s["gpu_total_mib"] == [143771.0, 143771.0]
    assert s["host_peak_gib"] >= s["host_at_start_gib"] > 0


def test_without_nvidia_smi_gpu_figures_are_none(tmp_path):
    assert gpu_memory((str(tmp_path / "missing-smi"),)) is None
    mon = MemoryMonitor(interval_s=0.05, smi_cmd=(str(tmp_path / "missing-smi"),)).start()
    s = mon.stop()
    assert s["gpu_peak_mib"] is None and s["samples"] >= 1
    assert host_memory_used() > 0 if os.path.exists("/proc/meminfo") else True

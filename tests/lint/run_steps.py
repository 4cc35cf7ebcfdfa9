"""Writes the shell scripts a CI workflow or a Dockerfile runs into a folder, one file each, for
shellcheck (what actionlint and hadolint do with their own shellcheck):
  run_steps.py workflow FILE OUT_DIR   the `run:` steps (bash, GitHub's default shell)
  run_steps.py dockerfile FILE OUT_DIR the RUN instructions (sh -c, Docker's shell form)
Each script starts with a comment naming its source line; `${{ ... }}` expressions become a
placeholder variable, as actionlint does before it runs shellcheck. Prints the files written."""
import os
import re
import sys

import yaml


def workflow(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    for job_name, job in (doc.get("jobs") or {}).items():
        for i, step in enumerate(job.get("steps") or []):
            if "run" in step:
                expr = re.sub(r"\$\{\{.*?\}\}", "${GITHUB_EXPRESSION}", step["run"])
                yield f"{job_name}-step{i + 1}", "bash", f"# {path}: jobs.{job_name}.steps[{i}]\n{expr}\n"


def dockerfile(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        start = i
        text = lines[i]
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1] + "\n" + lines[i]
        i += 1
        m = re.match(r"\s*RUN\s+(.*)", text, re.S)
        if m and not m.group(1).lstrip().startswith("["):
            # The continuation lines stay lines (with a trailing backslash), so shellcheck's line numbers
            # count from the RUN instruction. A `# shellcheck disable=...` comment on the line above the
            # instruction applies to it (where hadolint takes its `# hadolint ignore=...`).
            body = m.group(1).replace("\n", " \\\n")
            above = lines[start - 1].strip() if start > 0 else ""
            directive = above + "\n" if re.match(r"#\s*shellcheck\s+disable=", above) else ""
            yield f"run-line{start + 1}", "sh", f"# {path}:{start + 1}\n{directive}{body}\n"


def main():
    kind, path, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    steps = workflow(path) if kind == "workflow" else dockerfile(path)
    for name, shell, text in steps:
        target = os.path.join(out, f"{os.path.basename(path)}.{name}.sh")
        with open(target, "w", encoding="utf-8") as f:
            f.write(f"#!/bin/{shell}\n{text}")
        print(target)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Make `import sgs.gpu_eval` work from a checkout that is not pip-installed
# (e.g. a bare GPU machine). Source it from the repository root:
#     . benchmarks/device_env.sh
# It maps the folders the way pyproject.toml's package-dir does, through a
# temporary folder of symbolic links put first on PYTHONPATH.
_repo="$(pwd)"
_site="$(mktemp -d "${TMPDIR:-/tmp}/sgs-site.XXXXXX")"
mkdir -p "$_site/sgs"
for _f in "$_repo"/sgs/*; do ln -s "$_f" "$_site/sgs/"; done
for _p in core gpu_eval tui splits; do
    [ -d "$_repo/$_p" ] && ln -s "$_repo/$_p" "$_site/sgs/$_p"
done
export PYTHONPATH="$_site${PYTHONPATH:+:$PYTHONPATH}"
# `python -m pytest` would otherwise put the repository root first on the
# path, where the folder sgs/ (without the mapped subpackages) hides the map.
export PYTHONSAFEPATH=1
unset _repo _site _f _p

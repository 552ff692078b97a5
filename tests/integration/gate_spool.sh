#!/usr/bin/env bash
# tests/integration/gate_spool.sh — the gate's spool (issue 13, item 2):
# gate_spool.c on the testbed and policy that gate.sh prepares.
GATE_TEST=gate_spool exec bash "$(dirname "$0")/gate.sh"

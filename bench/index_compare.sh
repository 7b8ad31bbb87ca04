#!/usr/bin/env bash
# Indexes over TCP (issue: indexes): ParenDB beside PostgreSQL (jsonb with
# expression indexes) in one run, 16 and 64 connections, every commit synced:
#   transfer        the durable transfer with accounts selected by _id (the baseline)
#   transfer-email  the same transfer with each account selected by its unique,
#                   indexed email; PostgreSQL: one function call by email
#   range           read 20 accounts by a range of their indexed rank
# ParenDB's collection carries both indexes in every workload (--indexes),
# so the _id transfer pays what indexes cost writers. The lock_waits column
# of parendb_load (printed with -v) shows the server's lock waits per cell.
#
#   bench/index_compare.sh [SECONDS] [ROUNDS]   (defaults 3 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
WORKLOADS="transfer transfer-email range" CONNS="16 64" SYSTEMS="parendb parendb1 pg" LOAD_FLAGS="--indexes" \
  exec bench/compare.sh "$@"

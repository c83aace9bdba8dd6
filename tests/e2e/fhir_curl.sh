#!/usr/bin/env bash
# Post every FHIR scenario file to a running node with curl, as a new user would, then read
# each created record back and search the patient's AuditEvents.
#
#   fhir_curl.sh URL SOURCE_TOKEN AUDITOR_TOKEN SCENARIO_DIR OUT_DIR PATIENT
#
# Writes OUT_DIR/<file>.out (the node's answer), OUT_DIR/<id>.record.json for every created
# record, OUT_DIR/search.json, and prints one line per file: "<file> <kind> <HTTP status> <id>".
set -euo pipefail
url=$1 source_token=$2 auditor_token=$3 data=$4 out=$5 patient=$6
mkdir -p "$out"
for f in "$data"/*.json; do
  name=$(basename "$f")
  case "$name" in
    *consent*) kind=Consent ;;
    *) kind=AuditEvent ;;  # a Provenance is not an AuditEvent: the node must refuse it
  esac
  code=$(curl -sS -o "$out/$name.out" -w '%{http_code}' -X POST "$url/fhir/$kind" \
    -H "Authorization: Bearer $source_token" \
    -H 'Content-Type: application/fhir+json' \
    --data-binary "@$f")
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("id", "-"))' \
    "$out/$name.out")
  if [ "$code" = 201 ] || [ "$code" = 200 ]; then
    curl -sS -f -o "$out/$id.record.json" "$url/v1/records/$id" \
      -H "Authorization: Bearer $auditor_token"
  fi
  echo "$name $kind $code $id"
done
curl -sS -f -G -o "$out/search.json" "$url/fhir/AuditEvent" \
  -H "Authorization: Bearer $auditor_token" \
  --data-urlencode "patient=$patient" \
  --data-urlencode "date=ge2021-01-01" --data-urlencode "date=lt2022-01-01"
echo "search $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"])' \
  "$out/search.json")"

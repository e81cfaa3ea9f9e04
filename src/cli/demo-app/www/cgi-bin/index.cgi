#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nhello from roost machine %s\n' "${ROOST_MACHINE_ID:-local}"

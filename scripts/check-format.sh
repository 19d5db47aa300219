#!/usr/bin/env bash
# Fails when a Swift file is not formatted by the checked-in .swift-format
# (fix with: swift format format --in-place --recursive Sources Tests Package.swift).
set -euo pipefail
cd "$(dirname "$0")/.."
swift format lint --strict --recursive Sources Tests Package.swift
echo "format: clean"

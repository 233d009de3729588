#!/usr/bin/env bash
# Installs the Debian packages the test suite needs: pcscd + vsmartcard-vpcd (virtual PC/SC
# reader, test hosts only), libpcsclite-dev and a compiler for pyscard, chromium (with a
# Japanese font for its screenshots and PDFs) for the console, and nginx (the TLS reverse proxy
# of docs/deploy-service.md; tests run their own instance).
# Runs only as root; elsewhere it lists what is missing and exits 0 so a developer can decide.
set -euo pipefail
pkgs=(pcscd vsmartcard-vpcd libpcsclite-dev swig gcc python3-dev chromium fonts-ipafont-gothic nginx)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "system packages missing (run as root to install): ${missing[*]}" >&2
  exit 0
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts pcscd through socket activation; the tests run their own daemon instead.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now pcscd.socket pcscd.service >/dev/null 2>&1 || true; fi
pkill -x pcscd 2>/dev/null || true
echo "system packages installed"

#!/bin/sh
# Runs before `npm test`: makes sure the programs the tests drive are installed.
# Silent and instant when everything is there. When something is missing: as root, installs the
# Debian/Ubuntu packages with apt-get; otherwise stops and prints the command to run.
# TEST_PREREQUISITES_NO_INSTALL=1 never installs (behaves as for a non-root user).

# One "program package" pair a line; add a line when a test starts running another program.
REQUIRED='
dig bind9-dnsutils
kdig knot-dnsutils
kubectl kubernetes-client
promtool prometheus
chromium chromium
/usr/sbin/unbound unbound
'

set -eu

missing_programs=''
missing_packages=''
check() {
  missing_programs=''
  missing_packages=''
  while read -r program package; do
    [ -n "$program" ] || continue
    if ! command -v "$program" >/dev/null 2>&1; then
      missing_programs="$missing_programs $program"
      case " $missing_packages " in
        *" $package "*) ;;
        *) missing_packages="$missing_packages $package" ;;
      esac
    fi
  done <<EOF
$REQUIRED
EOF
  missing_programs=${missing_programs# }
  missing_packages=${missing_packages# }
}

check
[ -z "$missing_programs" ] && exit 0

if [ "$(id -u)" != 0 ] || [ -n "${TEST_PREREQUISITES_NO_INSTALL:-}" ]; then
  echo "The tests need programs that are not installed: $missing_programs" >&2
  echo "Install them with:" >&2
  echo "  sudo apt-get install -y $missing_packages" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "The tests need programs that are not installed: $missing_programs" >&2
  echo "There is no apt-get here: install the equivalent of these Debian packages: $missing_packages" >&2
  exit 1
fi

packages=$missing_packages
echo "Installing for the tests: $packages" >&2
# Quiet: apt-get's own errors still reach stderr.
apt-get update -qq >/dev/null
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null

check
if [ -n "$missing_programs" ]; then
  echo "Still missing after installing $packages: $missing_programs" >&2
  exit 1
fi

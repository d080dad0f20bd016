#!/bin/sh
# Vendors GOV.UK Frontend into console/static/govuk/ from the npm package, so
# that the binary embeds it and `go run ./cmd/ntsflow serve` needs no npm.
# An update is one command: change GOVUK_FRONTEND below and run
#
#	scripts/govuk-frontend.sh
#
# The console is not a GOV.UK service: the Sass is compiled here with a system
# font stack and without the GDS Transport font face, so no font file is
# shipped or referenced, and the header carries no crown. Never hand-edit what
# this writes: run it again.
set -eu

GOVUK_FRONTEND=5.14.0 # the latest 5.x; 6.x changes the markup and the Sass
SASS=1.77.8           # the last Dart Sass before the @import deprecation warnings flood the log

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/console/static/govuk
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "npm is needed to update GOV.UK Frontend (the vendored copy needs none)" >&2; exit 1; }

cd "$work"
npm pack --silent "govuk-frontend@$GOVUK_FRONTEND" >/dev/null
tarball=govuk-frontend-$GOVUK_FRONTEND.tgz
mkdir pkg && tar -xzf "$tarball" -C pkg
npm install --silent --no-audit --no-fund --no-save --prefix sass "sass@$SASS" >/dev/null

cat >console.scss <<'SCSS'
// A system font stack: the GDS Transport font is for GOV.UK services only.
$govuk-font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
$govuk-include-default-font-face: false;
$govuk-assets-path: "/console/static/govuk/assets/";
@import "govuk/index";
SCSS
sass/node_modules/.bin/sass --no-source-map --style=compressed --quiet-deps \
	--load-path=pkg/package/dist console.scss govuk-frontend.min.css

# The console uses none of the package's assets: no fonts (system fonts), no
# crown or crest, no favicon of GOV.UK's. The only url() left in the CSS is the
# footer's Crown copyright crest, whose class the console never uses, so that
# file is not shipped. A new url() in a later release stops this script, to be
# looked at rather than shipped or dropped unseen.
rm -rf "$out"
mkdir -p "$out"
cp govuk-frontend.min.css "$out/"
cp pkg/package/dist/govuk/govuk-frontend.min.js "$out/"
refs=$(grep -o 'url([^)]*)' govuk-frontend.min.css | sort -u)
if [ "$refs" != 'url("/console/static/govuk/assets/images/govuk-crest.svg")' ]; then
	printf 'the compiled CSS refers to assets this script does not know:\n%s\n' "$refs" >&2
	exit 1
fi
if grep -qi 'woff\|GDS Transport' "$out/govuk-frontend.min.css"; then
	echo "the compiled CSS still names the GDS Transport font" >&2
	exit 1
fi

# The npm package says "MIT" in package.json and its README but carries no
# licence file, so the MIT text of the project's LICENSE.txt is written out
# with the README's own licence section after it.
license=$(node -p "require('./pkg/package/package.json').license")
[ "$license" = MIT ] || { echo "govuk-frontend's licence is now $license: check it before vendoring" >&2; exit 1; }
{
	cat <<'MIT'
The MIT License (MIT)

Copyright (C) 2017 Crown Copyright (Government Digital Service)

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.

MIT
	sed -n '/^## Licence/,/^## /p' pkg/package/README.md | sed '$d'
} >"$out/LICENSE"
{
	echo "govuk-frontend $GOVUK_FRONTEND"
	echo "sha256 $(sha256sum "$tarball" | cut -d' ' -f1) $tarball"
	echo "compiled with sass $SASS by scripts/govuk-frontend.sh"
} >"$out/VERSION"
echo "GOV.UK Frontend $GOVUK_FRONTEND vendored into console/static/govuk/"

set -eu
mkdir -p /src/module
cd /src/module
export HOME=/gobench-tmp TMPDIR=/gobench-tmp GOCACHE=/gobench-tmp/go-cache GOMODCACHE=/gomodcache GOFLAGS="${GOFLAGS:-} -modcacherw"
go mod init gobench.local/scratch
go get github.com/google/uuid@v1.6.1-0.20241114170450-2d3c2a9cc518
go get -t github.com/google/uuid@v1.6.1-0.20241114170450-2d3c2a9cc518
sed -i -e 's/^go [0-9][0-9a-z.]*$/go 1.27.3/' -e '/^toolchain /d' go.mod
go list -deps -test github.com/google/uuid > /dev/null
cd /gomodcache
find . -mindepth 1 -maxdepth 1 ! -name cache -exec rm -rf {} +
find cache -mindepth 1 -maxdepth 1 ! -name download -exec rm -rf {} +

set -eu
mkdir -p /src/module
cd /src/module
export HOME=/gobench-tmp TMPDIR=/gobench-tmp GOCACHE=/gobench-tmp/go-cache GOMODCACHE=/gomodcache GOFLAGS="${GOFLAGS:-} -modcacherw"
go mod init gobench.local/scratch
go get go.etcd.io/etcd/etcdctl/v3@v3.6.14 go.etcd.io/etcd/server/v3@v3.6.14 go.etcd.io/etcd/v3@v3.6.14 go.etcd.io/etcd/v3/tools/benchmark@v3.6.14
sed -i -e 's/^go [0-9][0-9a-z.]*$/go 1.27.3/' -e '/^toolchain /d' go.mod
go list -deps go.etcd.io/etcd/v3/tools/benchmark go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3 > /dev/null
cd /gomodcache
find . -mindepth 1 -maxdepth 1 ! -name cache -exec rm -rf {} +
find cache -mindepth 1 -maxdepth 1 ! -name download -exec rm -rf {} +

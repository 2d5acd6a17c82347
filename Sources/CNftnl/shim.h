#ifndef BULKHEAD_CNFTNL_SHIM_H
#define BULKHEAD_CNFTNL_SHIM_H
// Socket headers first: linux/netfilter/nf_tables.h pulls in linux/in.h, which clashes with
// Glibc's module unless netinet/in.h came before it.
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/batch.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/gen.h>
#include <libnftnl/udata.h>

// setns(2) is only declared with _GNU_SOURCE, which a module header cannot rely on.
extern int setns(int fd, int nstype);
#define BULKHEAD_CLONE_NEWNET 0x40000000
#endif

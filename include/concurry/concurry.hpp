// The whole public API of concurry: workers, registration, options, pools, futures, statistics
// and the runtime. Includes no CAF or Cap'n Proto header.
#pragma once

#include <concurry/error.hpp>
#include <concurry/future.hpp>
#include <concurry/mode.hpp>
#include <concurry/options.hpp>
#include <concurry/pool.hpp>
#include <concurry/registry.hpp>
#include <concurry/runtime.hpp>
#include <concurry/stats.hpp>
#include <concurry/transfer.hpp>
#include <concurry/version.hpp>
#include <concurry/worker.hpp>

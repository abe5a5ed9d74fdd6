// Preprocessor helpers for the registration macros: a FOR_EACH over up to 256 arguments.
#pragma once

#define CONCURRY_DETAIL_PARENS ()
#define CONCURRY_DETAIL_EXPAND(...)                                                                \
  CONCURRY_DETAIL_EXPAND3(CONCURRY_DETAIL_EXPAND3(CONCURRY_DETAIL_EXPAND3(__VA_ARGS__)))
#define CONCURRY_DETAIL_EXPAND3(...)                                                               \
  CONCURRY_DETAIL_EXPAND2(CONCURRY_DETAIL_EXPAND2(CONCURRY_DETAIL_EXPAND2(__VA_ARGS__)))
#define CONCURRY_DETAIL_EXPAND2(...)                                                               \
  CONCURRY_DETAIL_EXPAND1(CONCURRY_DETAIL_EXPAND1(CONCURRY_DETAIL_EXPAND1(__VA_ARGS__)))
#define CONCURRY_DETAIL_EXPAND1(...) __VA_ARGS__

/// Expands `macro(data, x)` for every x, separated by commas.
#define CONCURRY_DETAIL_FOR_EACH(macro, data, ...)                                                 \
  __VA_OPT__(CONCURRY_DETAIL_EXPAND(CONCURRY_DETAIL_FOR_EACH_STEP(macro, data, __VA_ARGS__)))
#define CONCURRY_DETAIL_FOR_EACH_STEP(macro, data, x, ...)                                         \
  macro(data, x) __VA_OPT__(                                                                       \
      , CONCURRY_DETAIL_FOR_EACH_AGAIN CONCURRY_DETAIL_PARENS(macro, data, __VA_ARGS__))
#define CONCURRY_DETAIL_FOR_EACH_AGAIN() CONCURRY_DETAIL_FOR_EACH_STEP

#define CONCURRY_DETAIL_MEMBER_PTR(cls, name) &cls::name
#define CONCURRY_DETAIL_STRING(unused, name) #name

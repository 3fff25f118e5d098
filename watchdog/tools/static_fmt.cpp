// Explicit instantiations of fmt's out-of-line templates, so that the
// task-watchdog binary does not load libfmt.so (and with it libstdc++.so and
// libgcc_s.so: +1.5 MB peak RSS and ~1-2 ms per command, measured with
// bench/watchdog_bench; Debian ships no static libfmt).
// No fmt source is vendored here: every definition comes from the installed
// <fmt/format-inl.h> of Debian's libfmt-dev; this file only names which
// templates to instantiate (the list libfmt's own format.cc instantiates).
// If a new fmt version changes that list, the link fails loudly.

#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {

template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;

#ifndef FMT_STATIC_THOUSANDS_SEPARATOR
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
#endif

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view, basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;
template FMT_API void buffer<wchar_t>::append(const wchar_t*, const wchar_t*);

}  // namespace detail
FMT_END_NAMESPACE

/*
 * gmp.hpp: libgmp for C++17 — goroutines, channels, select and locks in namespace gmp.
 *
 * Header-only, over the C API of gmp.h (which it includes); link as for gmp.h (-lgmp, or
 * `pkg-config --cflags --libs gmp-sched`, or CMake's gmp-sched::gmp-sched). Compile with
 * -std=c++17 or later.
 *
 *   gmp::go(f, args...)                 go f(args...): any callable (lambdas with [&] captures
 *                                       too); returns the goroutine's id (> 0)
 *   gmp::run_main(f)                    run f() as the main goroutine (gmp_main); returns f's
 *                                       int result (0 if f returns void), see below
 *   gmp::chan<T> c(cap)                 make(chan T, cap); T trivially copyable; move-only
 *     c.send(v), c.recv() -> optional<T> (nullopt once closed and drained), c.close(),
 *     c.len(), c.cap(), c.native_handle()
 *   gmp::select({cases...}) -> size_t   Go's select: the index of the case that proceeded
 *   gmp::select({cases...}, d) -> optional<size_t>   nullopt after d (zero d: Go's `default`)
 *     gmp::recv_case(c, out)            case v, ok := <-c: out = v, or nullopt if c is closed
 *                                       and drained (only the chosen case's out is assigned)
 *     gmp::send_case(c, v)              case c <- v (v must live until select returns)
 *   gmp::mutex, gmp::shared_mutex       Lockable / SharedLockable (std::lock_guard,
 *                                       std::unique_lock, std::shared_lock, std::scoped_lock)
 *   gmp::condition_variable             over std::unique_lock<gmp::mutex>: wait, wait(lk,
 *                                       pred), wait_for, wait_until (each also with pred),
 *                                       notify_one, notify_all
 *   gmp::waitgroup                      add(n), done(), wait()
 *   gmp::once_flag, gmp::call_once(flag, f, args...)
 *   gmp::this_goroutine::sleep_for(d), sleep_until(t), yield(), id()
 *
 * Everything works in any context: in a goroutine a blocking call parks the goroutine (its
 * thread runs other goroutines); in a plain thread (main(), std::thread) it sleeps the thread.
 * Goroutines and threads may share every channel and lock. The lock and wait-group types are
 * zero-initialised C structs underneath: constexpr-constructible, no destructor work; don't
 * destroy one while anybody is blocked on it.
 *
 * Errors: a negative errno from the C API becomes std::system_error with
 * std::error_code(errno, std::generic_category()); e.g. a send on a closed channel (Go's panic)
 * and closing a closed channel throw one whose code() == std::errc::broken_pipe (EPIPE).
 *
 * Decisions (read these):
 *  - run_main(f) returns f's result: f() -> int gives that int (so `int main() { return
 *    gmp::run_main([] { ...; return 0; }); }` works), f() -> void gives 0; other result types
 *    are refused at compile time (a long would be cut silently). gmp_main's own return value
 *    is 0 whenever f ran to its end, so the int worth returning is f's; gmp_main's failures
 *    are errors and throw std::system_error: EPERM (run_main called from a goroutine), EDEADLK
 *    (gmp_main printed "all goroutines are asleep - deadlock!": f never returned and its
 *    goroutine stays blocked for good, still referring to f and its captures, so don't wake
 *    it). An exception that escapes f is caught in the main goroutine and rethrown by run_main
 *    in the calling thread (as std::future::get does).
 *  - An exception that escapes a function started with go() terminates the program: the
 *    goroutine's trampoline prints "gmp::go: goroutine N ended by an uncaught exception: ..."
 *    on stderr and calls std::terminate() (as an exception escaping a std::thread does). It
 *    never unwinds into the C runtime. Catch inside the goroutine what you want to survive.
 *  - ~chan() frees the channel. If gmp_chan_free reports EBUSY (a goroutine or thread is still
 *    blocked in a send, receive or select on it) that is a lifetime bug in the program: the
 *    destructor prints "gmp::chan: destroyed while ... blocked on it" and calls
 *    std::terminate() rather than leave them blocked on memory about to be reused. Destroy
 *    a chan (as any lock or wait group) only once every goroutine and thread using it has
 *    returned from its last call on it: wait for them with a gmp::waitgroup first.
 *  - call_once has std::call_once's semantics, not gmp_once_do's (Go's sync.Once): if f
 *    throws, the exception reaches the caller and the flag stays unset, so the next caller
 *    runs f. (It is a gmp::mutex plus an atomic flag, so waiters park like any mutex waiter.)
 *  - A case on a moved-from chan is never ready (Go's nil channel), so moving a channel out of
 *    a select's cases disables them; any other operation on a moved-from chan throws EINVAL.
 *  - Durations: timeouts are rounded up to whole nanoseconds and saturate at INT64_MAX ns;
 *    a zero or negative timeout means "now" (select: Go's default; condition_variable: an
 *    immediate timeout; sleep_for: a yield).
 *  - Don't call gmp_exit() in a function run by go() or run_main(): it ends the goroutine
 *    without unwinding, so destructors (and go()'s freeing of the callable) never run.
 */
#ifndef GMP_HPP
#define GMP_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "gmp.hpp needs C++17 (-std=c++17); C programs include gmp.h"
#endif

#include <atomic>
#include <chrono>
#include <condition_variable> // std::cv_status
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "gmp.h"

namespace gmp {

namespace detail {

[[noreturn]] inline void throw_errno(long long neg, const char *what)
{
    throw std::system_error(std::error_code(static_cast<int>(-neg), std::generic_category()),
                            what);
}

// r if it is >= 0; throws std::system_error for a negative errno.
inline long long check(long long r, const char *what)
{
    if (r < 0) throw_errno(r, what);
    return r;
}

// A timeout for the C API: >= 0 ns, rounded up, saturating at INT64_MAX.
template <class Rep, class Period>
int64_t timeout_ns(const std::chrono::duration<Rep, Period> &d)
{
    if (d <= d.zero()) return 0;
    if (std::chrono::duration<long double, std::nano>(d).count() >= 9.2e18L) return INT64_MAX;
    int64_t ns = static_cast<int64_t>(std::chrono::ceil<std::chrono::nanoseconds>(d).count());
    return ns > 0 ? ns : 1;
}

// Called inside a catch (...) handler of a goroutine trampoline: report, then terminate.
[[noreturn]] inline void uncaught_in_goroutine(const char *where) noexcept
{
    const char *what = "an exception not derived from std::exception";
    try {
        throw;
    } catch (const std::exception &e) {
        what = e.what();
    } catch (...) {
    }
    std::fprintf(stderr, "%s: goroutine %lld ended by an uncaught exception: %s\n", where,
                 static_cast<long long>(gmp_goid(nullptr)), what);
    std::fflush(stderr);
    std::terminate();
}

// Bytes received from a channel, turned into a T (T is trivially copyable).
template <class T> T from_bytes(const void *bytes)
{
    if constexpr (std::is_empty_v<T> && std::is_default_constructible_v<T>) {
        (void)bytes; // a signal-only channel copies no bytes
        return T{};
    } else if constexpr (std::is_default_constructible_v<T>) {
        T v;
        std::memcpy(static_cast<void *>(std::addressof(v)), bytes, sizeof(T));
        return v;
    } else {
        return *std::launder(reinterpret_cast<const T *>(bytes));
    }
}

struct select_access;

} // namespace detail

// ------------------------------------------------------------------ goroutines

// go f(args...): copies (or moves) f and args to the heap, starts a goroutine that calls
// f(args...) as std::thread does (rvalue copies), and returns its id (> 0). Any context.
// Throws std::system_error (ENOMEM, EAGAIN) if the goroutine cannot be made; nothing leaks.
// An exception escaping f terminates the program (see the header comment).
template <class F, class... Args> int64_t go(F &&f, Args &&...args)
{
    static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                  "gmp::go(f, args...): f(args...) must be callable");
    auto call = [fn = std::forward<F>(f),
                 tup = std::make_tuple(std::forward<Args>(args)...)]() mutable {
        std::apply(std::move(fn), std::move(tup));
    };
    using Box = decltype(call);
    auto box = std::make_unique<Box>(std::move(call));
    gmp_fn entry = [](void *p) noexcept {
        std::unique_ptr<Box> b(static_cast<Box *>(p));
        try {
            (*b)();
        } catch (...) {
            detail::uncaught_in_goroutine("gmp::go");
        }
    };
    int64_t id = gmp_spawn(entry, box.get());
    detail::check(id, "gmp::go: gmp_spawn");
    box.release(); // the goroutine owns it now
    return id;
}

// Run f() as the main goroutine (gmp_main) from a thread, and return f's result: its int
// (f() -> int) or 0 (f() -> void; other result types are refused at compile time, so a long
// is never cut to an int silently). An exception escaping f is
// rethrown here. Throws std::system_error EPERM from a goroutine, EDEADLK when gmp_main
// detected a deadlock (f never finished). See the header comment.
template <class F> int run_main(F &&f)
{
    using Fn = std::remove_reference_t<F>;
    using R = std::invoke_result_t<Fn &>;
    static_assert(std::is_void_v<R> || std::is_same_v<std::remove_cv_t<std::remove_reference_t<R>>, int>,
                  "gmp::run_main(f): f() must return void or int (pass wider results out "
                  "through a capture)");
    struct state {
        Fn *fn;
        int result;
        std::exception_ptr error;
    } st{std::addressof(f), 0, nullptr};
    gmp_fn entry = [](void *p) noexcept {
        auto *s = static_cast<state *>(p);
        try {
            if constexpr (std::is_void_v<R>)
                std::invoke(*s->fn);
            else
                s->result = std::invoke(*s->fn);
        } catch (...) {
            s->error = std::current_exception();
        }
    };
    detail::check(gmp_main(entry, &st), "gmp::run_main: gmp_main");
    if (st.error) std::rethrow_exception(st.error);
    return st.result;
}

namespace this_goroutine {

// The calling goroutine's id (> 0, unique for the life of the process); 0 in thread context.
inline int64_t id() noexcept { return gmp_goid(nullptr); }

// runtime.Gosched(): let other goroutines run (a thread: sched_yield()).
inline void yield() noexcept { gmp_gosched(); }

// time.Sleep(d): park for at least d (a thread sleeps); d <= 0 yields.
template <class Rep, class Period> void sleep_for(const std::chrono::duration<Rep, Period> &d)
{
    detail::check(gmp_sleep(detail::timeout_ns(d)), "gmp::this_goroutine::sleep_for");
}

template <class Clock, class Duration>
void sleep_until(const std::chrono::time_point<Clock, Duration> &t)
{
    for (auto now = Clock::now(); now < t; now = Clock::now()) sleep_for(t - now);
}

} // namespace this_goroutine

// ------------------------------------------------------------------ channels

class select_case;

// Go's `chan T` (make(chan T, cap)): T must be trivially copyable (values are copied as bytes
// into and out of the channel). An empty T (struct {}) makes a signal-only channel. Move-only
// owner of a gmp_chan; the destructor frees it (see the header comment for EBUSY).
template <class T> class chan {
    static_assert(std::is_trivially_copyable_v<T>,
                  "gmp::chan<T>: T must be trivially copyable (values are copied as bytes)");
    static_assert(std::is_same_v<T, std::remove_cv_t<T>> && std::is_object_v<T> &&
                      !std::is_array_v<T>,
                  "gmp::chan<T>: T must be a non-const, non-array object type");
    static_assert(sizeof(T) <= 65536, "gmp::chan<T>: sizeof(T) must be at most 65536");

  public:
    using value_type = T;
    static constexpr size_t elem_size = std::is_empty_v<T> ? 0 : sizeof(T);

    // An unbuffered (cap 0: a send waits for a receiver) or buffered channel.
    explicit chan(size_t capacity = 0)
    {
        detail::check(gmp_chan_new(elem_size, capacity, &c_), "gmp::chan: gmp_chan_new");
    }
    chan(chan &&o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    chan &operator=(chan &&o) noexcept
    {
        if (this != &o) {
            free_();
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    chan(const chan &) = delete;
    chan &operator=(const chan &) = delete;
    ~chan() { free_(); }

    // c <- v: blocks until a receiver takes it (unbuffered) or there is room. Throws
    // std::system_error EPIPE if the channel is closed or gets closed meanwhile.
    void send(const T &v)
    {
        detail::check(gmp_chan_send(c_, std::addressof(v)), "gmp::chan::send");
    }

    // v, ok := <-c: the next value, or nullopt once the channel is closed and drained.
    std::optional<T> recv()
    {
        alignas(T) unsigned char buf[sizeof(T)];
        if (detail::check(gmp_chan_recv(c_, buf), "gmp::chan::recv") == 0) return std::nullopt;
        return detail::from_bytes<T>(buf);
    }

    // close(c): receivers drain the buffer, then get nullopt; senders get EPIPE. Closing a
    // closed channel throws std::system_error EPIPE (Go panics).
    void close() { detail::check(gmp_chan_close(c_), "gmp::chan::close"); }

    // Values buffered now / the buffer's size.
    size_t len() const { return static_cast<size_t>(detail::check(gmp_chan_len(c_), "gmp::chan::len")); }
    size_t cap() const { return static_cast<size_t>(detail::check(gmp_chan_cap(c_), "gmp::chan::cap")); }

    // The C channel (for gmp_chan_* calls and gmp_select from C); nullptr once moved from.
    gmp_chan *native_handle() const noexcept { return c_; }

    friend void swap(chan &a, chan &b) noexcept { std::swap(a.c_, b.c_); }

  private:
    void free_() noexcept
    {
        if (!c_) return;
        int r = gmp_chan_free(c_);
        if (r == -EBUSY) {
            std::fprintf(stderr, "gmp::chan: destroyed while a goroutine or thread is blocked on "
                                 "it (a lifetime bug): terminating\n");
            std::fflush(stderr);
            std::terminate();
        }
        c_ = nullptr;
    }

    gmp_chan *c_ = nullptr;
};

// One case of gmp::select; made by recv_case and send_case. It refers to the channel, the
// value to send and the optional to fill: use it within the full expression that made it.
class select_case {
  public:
    select_case(const select_case &) = default;
    select_case &operator=(const select_case &) = default;

  private:
    friend struct detail::select_access;
    template <class T> friend select_case recv_case(chan<T> &c, std::optional<T> &out);
    template <class T> friend select_case send_case(chan<T> &c, const T &v);

    select_case() = default;

    gmp_chan *chan_ = nullptr;
    int dir_ = 0;
    const void *value_ = nullptr;                           // send: the value
    void *out_ = nullptr;                                   // recv: the std::optional<T>
    size_t size_ = 0, align_ = 1;                           // recv: sizeof/alignof T
    void (*deliver_)(void *out, const void *bytes, bool ok) = nullptr; // recv
};

// case v, ok := <-c: when chosen, out = the value, or std::nullopt if c is closed and drained.
// Unchosen cases leave their out alone.
template <class T> select_case recv_case(chan<T> &c, std::optional<T> &out)
{
    select_case k;
    k.chan_ = c.native_handle();
    k.dir_ = GMP_RECV;
    k.out_ = std::addressof(out);
    k.size_ = sizeof(T);
    k.align_ = alignof(T);
    k.deliver_ = [](void *o, const void *bytes, bool ok) {
        auto &opt = *static_cast<std::optional<T> *>(o);
        if (ok)
            opt = detail::from_bytes<T>(bytes);
        else
            opt.reset();
    };
    return k;
}

// case c <- v. v is read when the case is chosen: keep it alive until select returns (a
// temporary argument lives until the end of the full expression: select({send_case(c, 1)})
// is fine).
template <class T> select_case send_case(chan<T> &c, const T &v)
{
    select_case k;
    k.chan_ = c.native_handle();
    k.dir_ = GMP_SEND;
    k.value_ = std::addressof(v);
    return k;
}

namespace detail {

struct select_access {
    // gmp_select over the cases: the chosen index, or nullopt on -EAGAIN/-ETIMEDOUT.
    static std::optional<size_t> run(const select_case *cs, size_t n, int64_t timeout)
    {
        constexpr size_t small_cases = 8, small_bytes = 256;
        size_t size = 0, align = 1;
        for (size_t i = 0; i < n; i++) {
            if (cs[i].dir_ != GMP_RECV) continue;
            if (cs[i].size_ > size) size = cs[i].size_;
            if (cs[i].align_ > align) align = cs[i].align_;
        }
        // Only the chosen case writes its element, so the receive cases share one buffer.
        alignas(std::max_align_t) unsigned char small[small_bytes];
        struct aligned_delete {
            size_t align;
            void operator()(unsigned char *p) const
            {
                ::operator delete(p, std::align_val_t(align));
            }
        };
        std::unique_ptr<unsigned char, aligned_delete> big(nullptr, aligned_delete{align});
        unsigned char *scratch = small;
        if (size > small_bytes || align > alignof(std::max_align_t)) {
            big.reset(static_cast<unsigned char *>(::operator new(size, std::align_val_t(align))));
            scratch = big.get();
        }
        gmp_case few[small_cases];
        std::vector<gmp_case> many;
        gmp_case *cases = few;
        if (n > small_cases) {
            many.resize(n);
            cases = many.data();
        }
        for (size_t i = 0; i < n; i++) {
            cases[i].chan = cs[i].chan_;
            cases[i].dir = cs[i].dir_;
            cases[i].elem = cs[i].dir_ == GMP_SEND ? const_cast<void *>(cs[i].value_) : scratch;
            cases[i].ok = false;
        }
        int r = gmp_select(n ? cases : nullptr, n, timeout);
        if (timeout >= 0 && (r == -EAGAIN || r == -ETIMEDOUT)) return std::nullopt;
        size_t k = static_cast<size_t>(check(r, "gmp::select"));
        if (cs[k].dir_ == GMP_RECV) cs[k].deliver_(cs[k].out_, scratch, cases[k].ok);
        return k;
    }
};

} // namespace detail

// Go's select: block until one case can proceed, do it, return its index (among several
// ready cases one is chosen at random). Throws std::system_error EPIPE if the chosen case is
// a send on a closed channel, EINVAL for no cases at all.
inline size_t select(std::initializer_list<select_case> cases)
{
    return *detail::select_access::run(cases.begin(), cases.size(), -1);
}
inline size_t select(const std::vector<select_case> &cases)
{
    return *detail::select_access::run(cases.data(), cases.size(), -1);
}

// select with a timeout: the chosen index, or std::nullopt if none could proceed within d.
// A zero (or negative) d is Go's `default:` — only a case that is ready now.
template <class Rep, class Period>
std::optional<size_t> select(std::initializer_list<select_case> cases,
                             const std::chrono::duration<Rep, Period> &d)
{
    return detail::select_access::run(cases.begin(), cases.size(), detail::timeout_ns(d));
}
template <class Rep, class Period>
std::optional<size_t> select(const std::vector<select_case> &cases,
                             const std::chrono::duration<Rep, Period> &d)
{
    return detail::select_access::run(cases.data(), cases.size(), detail::timeout_ns(d));
}

// ------------------------------------------------------------------ locks

// Go's sync.Mutex as a C++ Lockable (std::lock_guard, std::unique_lock, std::scoped_lock):
// spins briefly, then parks the goroutine (sleeps the thread). Not recursive. Any goroutine or
// thread may unlock; unlock() of an unlocked mutex throws std::system_error EPERM.
class mutex {
  public:
    constexpr mutex() noexcept : m_{} {}
    mutex(const mutex &) = delete;
    mutex &operator=(const mutex &) = delete;

    void lock() { detail::check(gmp_mutex_lock(&m_), "gmp::mutex::lock"); }
    bool try_lock()
    {
        int r = gmp_mutex_trylock(&m_);
        if (r == -EBUSY) return false;
        detail::check(r, "gmp::mutex::try_lock");
        return true;
    }
    void unlock() { detail::check(gmp_mutex_unlock(&m_), "gmp::mutex::unlock"); }

    gmp_mutex *native_handle() noexcept { return &m_; }

  private:
    gmp_mutex m_;
};

// Go's sync.RWMutex as a C++ SharedLockable (std::shared_lock for readers, std::unique_lock /
// std::lock_guard for the writer). A blocked writer keeps new readers out.
class shared_mutex {
  public:
    constexpr shared_mutex() noexcept : rw_{} {}
    shared_mutex(const shared_mutex &) = delete;
    shared_mutex &operator=(const shared_mutex &) = delete;

    void lock() { detail::check(gmp_rwmutex_lock(&rw_), "gmp::shared_mutex::lock"); }
    bool try_lock() { return try_(gmp_rwmutex_trylock(&rw_), "gmp::shared_mutex::try_lock"); }
    void unlock() { detail::check(gmp_rwmutex_unlock(&rw_), "gmp::shared_mutex::unlock"); }

    void lock_shared() { detail::check(gmp_rwmutex_rlock(&rw_), "gmp::shared_mutex::lock_shared"); }
    bool try_lock_shared()
    {
        return try_(gmp_rwmutex_tryrlock(&rw_), "gmp::shared_mutex::try_lock_shared");
    }
    void unlock_shared()
    {
        detail::check(gmp_rwmutex_runlock(&rw_), "gmp::shared_mutex::unlock_shared");
    }

    gmp_rwmutex *native_handle() noexcept { return &rw_; }

  private:
    static bool try_(int r, const char *what)
    {
        if (r == -EBUSY) return false;
        detail::check(r, what);
        return true;
    }
    gmp_rwmutex rw_;
};

// Go's sync.Cond with std::condition_variable's interface, over std::unique_lock<gmp::mutex>.
// Waits may wake spuriously: use the predicate forms or a loop. Waiting on a lock that does
// not own its mutex throws std::system_error EPERM.
class condition_variable {
  public:
    constexpr condition_variable() noexcept : c_{} {}
    condition_variable(const condition_variable &) = delete;
    condition_variable &operator=(const condition_variable &) = delete;

    void notify_one() noexcept { gmp_cond_signal(&c_); }
    void notify_all() noexcept { gmp_cond_broadcast(&c_); }

    void wait(std::unique_lock<mutex> &lk)
    {
        detail::check(gmp_cond_wait(&c_, owned(lk)), "gmp::condition_variable::wait");
    }
    template <class Pred> void wait(std::unique_lock<mutex> &lk, Pred pred)
    {
        while (!pred()) wait(lk);
    }

    // Wait for a notification or d: std::cv_status::timeout if d passed.
    template <class Rep, class Period>
    std::cv_status wait_for(std::unique_lock<mutex> &lk, const std::chrono::duration<Rep, Period> &d)
    {
        int r = gmp_cond_wait_timeout(&c_, owned(lk), detail::timeout_ns(d));
        if (r == -ETIMEDOUT) return std::cv_status::timeout;
        detail::check(r, "gmp::condition_variable::wait_for");
        return std::cv_status::no_timeout;
    }
    // Wait until pred() holds or d passes: pred()'s last value.
    template <class Rep, class Period, class Pred>
    bool wait_for(std::unique_lock<mutex> &lk, const std::chrono::duration<Rep, Period> &d,
                  Pred pred)
    {
        using clock = std::chrono::steady_clock;
        const int64_t total = detail::timeout_ns(d);
        const auto start = clock::now();
        while (!pred()) {
            int64_t spent = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start).count();
            if (spent >= total) return pred();
            wait_for(lk, std::chrono::nanoseconds(total - spent));
        }
        return true;
    }

    template <class Clock, class Duration>
    std::cv_status wait_until(std::unique_lock<mutex> &lk,
                              const std::chrono::time_point<Clock, Duration> &t)
    {
        auto now = Clock::now();
        if (now < t) wait_for(lk, t - now);
        return Clock::now() < t ? std::cv_status::no_timeout : std::cv_status::timeout;
    }
    template <class Clock, class Duration, class Pred>
    bool wait_until(std::unique_lock<mutex> &lk, const std::chrono::time_point<Clock, Duration> &t,
                    Pred pred)
    {
        while (!pred())
            if (wait_until(lk, t) == std::cv_status::timeout) return pred();
        return true;
    }

    gmp_cond *native_handle() noexcept { return &c_; }

  private:
    static gmp_mutex *owned(std::unique_lock<mutex> &lk)
    {
        if (!lk.owns_lock()) detail::throw_errno(-EPERM, "gmp::condition_variable: lock not held");
        return lk.mutex()->native_handle();
    }
    gmp_cond c_;
};

// Go's sync.WaitGroup: add(n) before starting n workers, each calls done(), wait() blocks
// until the counter is 0. add making the counter negative throws std::system_error EINVAL
// (and changes nothing).
class waitgroup {
  public:
    constexpr waitgroup() noexcept : wg_{} {}
    waitgroup(const waitgroup &) = delete;
    waitgroup &operator=(const waitgroup &) = delete;

    void add(int64_t n = 1) { detail::check(gmp_waitgroup_add(&wg_, n), "gmp::waitgroup::add"); }
    void done() { detail::check(gmp_waitgroup_done(&wg_), "gmp::waitgroup::done"); }
    void wait() { detail::check(gmp_waitgroup_wait(&wg_), "gmp::waitgroup::wait"); }

    gmp_waitgroup *native_handle() noexcept { return &wg_; }

  private:
    gmp_waitgroup wg_;
};

// std::once_flag / std::call_once for goroutines: f(args...) runs once; concurrent callers
// park until it has finished. If f throws, the exception propagates and the flag stays unset
// (std::call_once's rule; gmp_once_do would count the call as done).
class once_flag {
  public:
    constexpr once_flag() noexcept = default;
    once_flag(const once_flag &) = delete;
    once_flag &operator=(const once_flag &) = delete;

  private:
    template <class F, class... Args> friend void call_once(once_flag &, F &&, Args &&...);
    std::atomic<bool> done_{false};
    mutex m_;
};

template <class F, class... Args> void call_once(once_flag &flag, F &&f, Args &&...args)
{
    if (flag.done_.load(std::memory_order_acquire)) return;
    std::lock_guard<mutex> hold(flag.m_);
    if (flag.done_.load(std::memory_order_relaxed)) return;
    std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
    flag.done_.store(true, std::memory_order_release);
}

} // namespace gmp

#endif /* GMP_HPP */

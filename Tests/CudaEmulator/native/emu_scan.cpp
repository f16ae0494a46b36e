// The rewrite between the two g++ passes of the emulated NVRTC. In the preprocessed unit (every macro
// expanded, so DEFINE_SUM(float, f32)'s kernels appear literally) it
//   - finds the kernels: `__global__` survives preprocessing as a token, since the shim leaves it undefined;
//     a kernel is registered only when it has C linkage (extern "C" before it or around it), because a GPU
//     finds a C++-linkage kernel only by its mangled name;
//   - records `__launch_bounds__(N, ...)`'s N, and blanks both tokens (columns stay right for diagnostics);
//   - rewrites `extern __shared__ T name[];` (the shim's expansion of __shared__ makes it `extern ... static`)
//     into a reference to the launch's dynamic shared memory pointer;
//   - appends the registration table and the module's entry point.
#include "emu_internal.h"

#include <cctype>
#include <cstring>
#include <set>
#include <vector>

namespace emu {
namespace {

struct Scope { bool namespace_like; bool extern_c; std::string name; };

struct Kernel { std::string name, qualified, bounds; bool extern_c; };

bool ident_start(char c) { return std::isalpha((unsigned char)c) || c == '_'; }
bool ident_char(char c) { return std::isalnum((unsigned char)c) || c == '_'; }

class Scanner
{
public:
    explicit Scanner(std::string text) : s_(std::move(text)) {}

    std::string run(std::string* warnings, unsigned* kernel_count);

private:
    std::string s_;
    std::size_t i_ = 0;
    std::vector<Scope> scopes_;
    std::vector<Kernel> kernels_;
    std::set<std::string> namespace_shared_;
    std::string warnings_;
    // The declaration being read: extern "C" seen in it, namespace keyword pending.
    bool decl_extern_c_ = false, pending_namespace_ = false, pending_extern_c_brace_ = false;
    std::string namespace_name_;
    std::string prev_ident_;

    void skip_ws(std::size_t& p) const { while (p < s_.size() && std::isspace((unsigned char)s_[p])) ++p; }
    std::string ident_at(std::size_t p) const
    {
        std::size_t e = p;
        while (e < s_.size() && ident_char(s_[e])) ++e;
        return s_.substr(p, e - p);
    }
    // From an opening parenthesis, the index just past its match (or npos).
    std::size_t skip_parens(std::size_t p) const
    {
        int depth = 0;
        for (; p < s_.size(); ++p)
        {
            if (s_[p] == '(') ++depth;
            else if (s_[p] == ')' && --depth == 0) return p + 1;
        }
        return std::string::npos;
    }
    void blank(std::size_t from, std::size_t to)
    {
        for (std::size_t p = from; p < to; ++p)
            if (s_[p] != '\n') s_[p] = ' ';
    }
    bool at_namespace_scope() const
    {
        for (const Scope& sc : scopes_)
            if (!sc.namespace_like) return false;
        return true;
    }
    bool inside_extern_c() const
    {
        for (const Scope& sc : scopes_)
            if (sc.extern_c) return true;
        return false;
    }
    std::string qualify(const std::string& name) const
    {
        std::string q;
        for (const Scope& sc : scopes_)
            if (!sc.name.empty()) q += sc.name + "::";
        return q + name;
    }
    void skip_literal(char quote);
    void on_global(std::size_t at);
    bool on_extern_shared(std::size_t at);
};

void Scanner::skip_literal(char quote)
{
    ++i_;
    while (i_ < s_.size() && s_[i_] != quote)
    {
        if (s_[i_] == '\\') ++i_;
        ++i_;
    }
    ++i_;
}

// `__global__` at `at`: [__launch_bounds__(...)] void [__launch_bounds__(...)] name (
void Scanner::on_global(std::size_t at)
{
    bool extern_c = decl_extern_c_ || inside_extern_c();
    blank(at, at + 10);
    std::size_t p = at + 10;
    std::string bounds, name;
    for (int tokens = 0; tokens < 8; ++tokens)
    {
        skip_ws(p);
        if (p >= s_.size() || !ident_start(s_[p])) return;
        std::string id = ident_at(p);
        if (id == "__launch_bounds__")
        {
            std::size_t open = p + id.size();
            skip_ws(open);
            std::size_t close = open < s_.size() && s_[open] == '(' ? skip_parens(open) : std::string::npos;
            if (close == std::string::npos) return;
            std::string args = s_.substr(open + 1, close - open - 2);
            int depth = 0;
            std::size_t comma = std::string::npos;
            for (std::size_t k = 0; k < args.size() && comma == std::string::npos; ++k)
            {
                if (args[k] == '(') ++depth;
                else if (args[k] == ')') --depth;
                else if (args[k] == ',' && depth == 0) comma = k;
            }
            bounds = args.substr(0, comma);
            blank(p, close);
            p = close;
            continue;
        }
        p += id.size();
        if (id == "void" || id == "static" || id == "inline" || id == "__attribute__") continue;
        std::size_t q = p;
        skip_ws(q);
        if (q < s_.size() && s_[q] == '(') { name = id; break; }
        return;
    }
    if (name.empty() || !at_namespace_scope()) return;
    for (Kernel& k : kernels_)
        if (k.name == name)
        {
            if (!bounds.empty()) k.bounds = bounds;
            return;
        }
    kernels_.push_back(Kernel{name, qualify(name), bounds, extern_c});
}

// `extern` at `at` followed by the shim's expansion of __shared__: rewrites the declaration. False when it
// is something else.
bool Scanner::on_extern_shared(std::size_t at)
{
    static const char kExpansion[] = "__attribute__((section(\".bss.emu_shared\"))) static";
    std::size_t p = at + 6;
    skip_ws(p);
    if (s_.compare(p, std::strlen(kExpansion), kExpansion) != 0) return false;
    std::size_t body = p + std::strlen(kExpansion);
    std::size_t semi = s_.find(';', body);
    if (semi == std::string::npos) return false;
    std::string decl = s_.substr(body, semi - body);
    std::size_t close = decl.find_last_not_of(" \t\n");
    if (close == std::string::npos || decl[close] != ']') return false;
    std::size_t open = decl.find_last_of('[', close);
    if (open == std::string::npos || decl.find_first_not_of(" \t\n", open + 1) != close) return false;
    std::size_t name_end = decl.find_last_not_of(" \t\n", open - 1) + 1;
    std::size_t name_begin = name_end;
    while (name_begin > 0 && ident_char(decl[name_begin - 1])) --name_begin;
    std::string name = decl.substr(name_begin, name_end - name_begin);
    // The element type, without its attributes (__align__ expands to one).
    std::string type;
    for (std::size_t k = 0; k < name_begin;)
    {
        if (decl.compare(k, 13, "__attribute__") == 0)
        {
            std::size_t o = decl.find('(', k);
            int depth = 0;
            for (; o < name_begin; ++o)
            {
                if (decl[o] == '(') ++depth;
                else if (decl[o] == ')' && --depth == 0) break;
            }
            k = o + 1;
            continue;
        }
        type += decl[k++];
    }
    std::size_t first = type.find_first_not_of(" \t\n"), last = type.find_last_not_of(" \t\n");
    if (name.empty() || first == std::string::npos) return false;
    type = type.substr(first, last - first + 1);
    std::string newlines;
    for (std::size_t k = at; k <= semi; ++k)
        if (s_[k] == '\n') newlines += '\n';
    std::string replacement;
    if (!at_namespace_scope())
        replacement = type + "*& " + name + " = reinterpret_cast<" + type + "*&>(__emu_dynamic_smem);";
    else if (namespace_shared_.insert(qualify(name)).second)
        replacement = "static " + type + "*& " + name + " = reinterpret_cast<" + type + "*&>(__emu_dynamic_smem);";
    s_.replace(at, semi + 1 - at, replacement + newlines);
    i_ = at + replacement.size() + newlines.size();
    return true;
}

std::string Scanner::run(std::string* warnings, unsigned* kernel_count)
{
    bool line_start = true;
    while (i_ < s_.size())
    {
        char c = s_[i_];
        if (c == '\n') { line_start = true; ++i_; continue; }
        if (std::isspace((unsigned char)c)) { ++i_; continue; }
        if (line_start && c == '#')   // line markers and pragmas
        {
            while (i_ < s_.size() && s_[i_] != '\n') ++i_;
            continue;
        }
        line_start = false;
        if (c == '"')
        {
            bool is_c = s_.compare(i_, 3, "\"C\"") == 0;
            skip_literal('"');
            if (is_c && prev_ident_ == "extern") { decl_extern_c_ = true; pending_extern_c_brace_ = true; }
            prev_ident_.clear();
            continue;
        }
        if (c == '\'') { skip_literal('\''); prev_ident_.clear(); continue; }
        if (ident_start(c))
        {
            std::size_t at = i_;
            std::string id = ident_at(at);
            if (id == "R" && i_ + 1 < s_.size() && s_[i_ + 1] == '"')   // raw string: R"delim( ... )delim"
            {
                std::size_t open = s_.find('(', i_);
                std::string end = ")" + s_.substr(i_ + 2, open - i_ - 2) + "\"";
                std::size_t close = s_.find(end, open);
                i_ = close == std::string::npos ? s_.size() : close + end.size();
                continue;
            }
            i_ += id.size();
            if (id == "__global__") on_global(at);
            else if (id == "__launch_bounds__")   // outside a kernel declaration: blank it too
            {
                std::size_t p = i_;
                skip_ws(p);
                std::size_t close = p < s_.size() && s_[p] == '(' ? skip_parens(p) : std::string::npos;
                if (close != std::string::npos) blank(at, close);
            }
            else if (id == "extern" && on_extern_shared(at)) { prev_ident_.clear(); continue; }
            else if (id == "namespace") { pending_namespace_ = true; namespace_name_.clear(); }
            else if (pending_namespace_) namespace_name_ += id;
            if (id != "extern") pending_extern_c_brace_ = false;
            prev_ident_ = id;
            continue;
        }
        if (pending_namespace_ && c == ':') namespace_name_ += c;
        else if (c == '{')
        {
            Scope scope{false, false, ""};
            if (pending_namespace_) scope = Scope{true, false, namespace_name_};
            else if (pending_extern_c_brace_) scope = Scope{true, true, ""};
            scopes_.push_back(scope);
            pending_namespace_ = pending_extern_c_brace_ = decl_extern_c_ = false;
        }
        else if (c == '}')
        {
            if (!scopes_.empty()) scopes_.pop_back();
            decl_extern_c_ = false;
        }
        else if (c == ';' || c == '=')
        {
            decl_extern_c_ = pending_namespace_ = pending_extern_c_brace_ = false;
        }
        else pending_extern_c_brace_ = false;
        prev_ident_.clear();
        ++i_;
    }

    std::string table = "\n# 1 \"<cuda-emu registration>\"\nstatic const cuda_emu_kernel __emu_kernel_table[] = {\n";
    unsigned count = 0;
    for (const Kernel& k : kernels_)
    {
        if (!k.extern_c)
        {
            warnings_ += format("warning: kernel '%s' has C++ linkage, so a GPU would find it only by its mangled name; the "
                                "emulator registers only extern \"C\" kernels\n", k.name.c_str());
            continue;
        }
        table += format("    __emu::Kernel<&%s>::entry(\"%s\", (int)(%s)),\n", k.qualified.c_str(), k.name.c_str(),
                        k.bounds.empty() ? "0" : k.bounds.c_str());
        ++count;
    }
    table += "    cuda_emu_kernel{}\n};\n";
    table += format("extern \"C\" __attribute__((visibility(\"default\"))) int " CUDA_EMU_MODULE_ENTRY_NAME
                    "(const cuda_emu_runtime* rt, cuda_emu_module_info* info)\n{ return __emu::init_module(rt, info, __emu_kernel_table, %u); }\n",
                    count);
    *warnings = warnings_;
    *kernel_count = count;
    return s_ + table;
}

} // namespace

std::string scan_unit(const std::string& preprocessed, std::string* warnings, unsigned* kernels)
{
    Scanner scanner(preprocessed);
    return scanner.run(warnings, kernels);
}

} // namespace emu

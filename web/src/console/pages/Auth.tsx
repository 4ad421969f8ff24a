import { useState, type FormEvent, type ReactNode } from "react";
import { LangSwitch } from "../App";
import { ErrorBox, useApp, useTr } from "../ui";

/** Sign in, or create an account and sign in with it. */
export function AuthPage({ onSignedIn }: { onSignedIn: () => void }): ReactNode {
  const { api } = useApp();
  const tr = useTr();
  const [mode, setMode] = useState<"signin" | "signup">("signin");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [company, setCompany] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "signup")
        await api.request("POST", "/auth/register", { email, password, name: name || undefined, company: company || undefined }, { auth: false });
      await api.login(email, password);
      onSignedIn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="auth">
      <div className="auth-card">
        <div className="auth-head">
          <h1>CLAW.AI</h1>
          <LangSwitch />
        </div>
        <p className="muted">{tr("AI customer service from your own documents.", "基于您自己文档的 AI 客服平台。")}</p>
        <div className="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={mode === "signin"} onClick={() => setMode("signin")}>
            {tr("Sign in", "登录")}
          </button>
          <button type="button" role="tab" aria-selected={mode === "signup"} onClick={() => setMode("signup")}>
            {tr("Create account", "注册")}
          </button>
        </div>
        <form onSubmit={submit} className="stack">
          <label>
            {tr("Email", "邮箱")}
            <input type="email" name="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
          <label>
            {tr("Password", "密码")}
            <input
              type="password"
              name="password"
              autoComplete={mode === "signup" ? "new-password" : "current-password"}
              required
              minLength={mode === "signup" ? 8 : 1}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
          {mode === "signup" && (
            <>
              <label>
                {tr("Name", "姓名")}
                <input name="name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />
              </label>
              <label>
                {tr("Company", "公司")}
                <input name="company" autoComplete="organization" value={company} onChange={(e) => setCompany(e.target.value)} />
              </label>
            </>
          )}
          <ErrorBox error={error} />
          <button type="submit" disabled={busy}>
            {mode === "signin" ? tr("Sign in", "登录") : tr("Create account", "注册")}
          </button>
        </form>
      </div>
    </div>
  );
}

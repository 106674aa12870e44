package ps

// Block is a statement list: a script, a { … } body or the inside of @( … ).
type Block struct{ Stmts []Stmt }

// Stmt is a statement.
type Stmt interface{ stmt() }

// Expr is an expression.
type Expr interface{ expr() }

// PipeElem is an element of a pipeline: a command, or an expression in first position.
type PipeElem interface{ pipeElem() }

// Pipeline is `a | b | c`.
type Pipeline struct{ Elems []PipeElem }

// Statements.
type (
	// PipelineStmt runs a pipeline and writes its output.
	PipelineStmt struct{ Pipe *Pipeline }
	// AssignStmt is `target = value`.
	AssignStmt struct {
		Target Expr // *VarExpr or *MemberExpr
		Value  *Pipeline
	}
	// IfStmt is if/elseif/else: Conds[i] guards Blocks[i].
	IfStmt struct {
		Conds  []*Pipeline
		Blocks []*Block
		Else   *Block
	}
	// ForeachStmt is `foreach ($Var in In) { Body }`.
	ForeachStmt struct {
		Var  string
		In   *Pipeline
		Body *Block
	}
	// TryStmt is `try { Body } catch { Catch }`.
	TryStmt struct{ Body, Catch *Block }
	// FlowStmt is continue or break.
	FlowStmt struct{ Break bool }
	// ThrowStmt is `throw [value]`.
	ThrowStmt struct{ Value *Pipeline }
	// ExitStmt is `exit [code]`.
	ExitStmt struct{ Code *Pipeline }
)

// Pipeline elements.
type (
	// CommandElem is a cmdlet call with its arguments; with Call set it is `& Call args`, the
	// call operator running the cmdlet or program the value names.
	CommandElem struct {
		Name string
		Call Expr
		Args []CmdArg
		Line int
	}
	// ExprElem is an expression heading a pipeline.
	ExprElem struct{ X Expr }
)

// CmdArg is a command argument: a parameter name (Value nil unless `-Name:value`) or a value.
type CmdArg struct {
	Param string
	Value Expr
}

// Expressions.
type (
	// Literal is a string or integer constant.
	Literal struct{ V any }
	// ExpandString is a double-quoted string with variables.
	ExpandString struct{ Parts []Expr }
	// VarExpr is `$Name`.
	VarExpr struct{ Name string }
	// ArrayExpr is `@( … )`.
	ArrayExpr struct{ Body *Block }
	// ParenExpr is `( pipeline )`.
	ParenExpr struct{ Pipe *Pipeline }
	// CommaExpr builds an array with `,`.
	CommaExpr struct{ Items []Expr }
	// UnaryExpr is -not (Op "not").
	UnaryExpr struct {
		Op string
		X  Expr
	}
	// BinaryExpr is a binary operator: and, or, eq, ne, replace, +.
	BinaryExpr struct {
		Op   string
		L, R Expr
	}
	// CastExpr is `[Type]X`.
	CastExpr struct {
		Type string
		X    Expr
	}
	// TypeExpr is a type literal before `::`.
	TypeExpr struct{ Name string }
	// MemberExpr is `X.Name` or `[T]::Name`.
	MemberExpr struct {
		X      Expr
		Name   string
		Static bool
	}
	// InvokeExpr is a method call `X.Name(Args)` or `[T]::Name(Args)`.
	InvokeExpr struct {
		X      Expr
		Name   string
		Args   []Expr
		Static bool
	}
	// IndexExpr is `X[Index]`.
	IndexExpr struct{ X, Index Expr }
	// BlockExpr is a `{ … }` script block value.
	BlockExpr struct{ SB *ScriptBlock }
)

func (*PipelineStmt) stmt() {}
func (*AssignStmt) stmt()   {}
func (*IfStmt) stmt()       {}
func (*ForeachStmt) stmt()  {}
func (*TryStmt) stmt()      {}
func (*FlowStmt) stmt()     {}
func (*ThrowStmt) stmt()    {}
func (*ExitStmt) stmt()     {}

func (*CommandElem) pipeElem() {}
func (*ExprElem) pipeElem()    {}

func (*Literal) expr()      {}
func (*ExpandString) expr() {}
func (*VarExpr) expr()      {}
func (*ArrayExpr) expr()    {}
func (*ParenExpr) expr()    {}
func (*CommaExpr) expr()    {}
func (*UnaryExpr) expr()    {}
func (*BinaryExpr) expr()   {}
func (*CastExpr) expr()     {}
func (*TypeExpr) expr()     {}
func (*MemberExpr) expr()   {}
func (*InvokeExpr) expr()   {}
func (*IndexExpr) expr()    {}
func (*BlockExpr) expr()    {}
